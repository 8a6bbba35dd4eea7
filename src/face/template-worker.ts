// The face engine's worker thread (run by piscina): loads Human and its models ONCE when the thread starts,
// then for each task decodes a photo with sharp and returns every face it finds (box, score, embedding).
// Everything here runs off the main event loop.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { workerData } from "node:worker_threads";
import sharp from "sharp";
import type { Config, Human as HumanType, Tensor } from "@vladmandic/human";
import type { FaceWorkerResult, FaceWorkerTask } from "./human-engine.js";

sharp.cache(false); // never keep decoded biometric pixels around between tasks

const require = createRequire(import.meta.url);
// The package's main entry is the tfjs-node build, which needs a native library downloaded at install time;
// the wasm build ships everything it needs but is not in the package's exports: load it by path.
const humanDir = path.resolve(path.dirname(require.resolve("@vladmandic/human")), "..");
const { Human } = require(path.join(humanDir, "dist/human.node-wasm.js")) as { Human: new (config: Partial<Config>) => HumanType };

// Human loads its models with fetch(); Node's fetch cannot read file:// URLs. This thread only ever needs the
// packaged model files, so anything but file:// under the package's models folder is refused: no network.
const modelDir = path.join(humanDir, "models") + path.sep;
globalThis.fetch = (async (input: string | URL | Request) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.startsWith("file://")) {
    const file = fileURLToPath(url);
    if (file.startsWith(modelDir)) return new Response(await readFile(file));
  }
  throw new Error(`face engine: refused to fetch ${url}`);
}) as typeof fetch;

/** Pixels beyond this on the longer side add decode and tensor cost but no detection quality. */
const MAX_SIDE = 1024;
const uncached = { skipFrames: 0, skipTime: 0 }; // Human caches boxes between video frames: never between photos

const human = new Human({
  backend: "wasm",
  wasmPath: path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + path.sep,
  modelBasePath: `file://${modelDir}`,
  debug: false,
  async: false,
  warmup: "none",
  cacheSensitivity: 0,
  filter: { enabled: false },
  face: {
    enabled: true,
    detector: { ...uncached, rotation: true, maxDetected: 10, minConfidence: 0.3, return: false },
    mesh: { ...uncached, enabled: true },
    iris: { enabled: false },
    description: { ...uncached, enabled: true },
    emotion: { enabled: false },
    antispoof: { enabled: false },
    liveness: { enabled: false },
  },
  body: { enabled: false },
  hand: { enabled: false },
  object: { enabled: false },
  gesture: { enabled: false },
  segmentation: { enabled: false },
});

// Only an engine built for fault-injection tests honours the crash marker; production engines never do.
const crashMarker = (workerData as { crashMarker?: string } | undefined)?.crashMarker;

async function detectFaces(task: FaceWorkerTask): Promise<FaceWorkerResult> {
  const photo = Buffer.from(task.photo.buffer, task.photo.byteOffset, task.photo.byteLength);
  if (crashMarker && photo.includes(crashMarker)) process.exit(70); // ends this thread, as a native crash would

  const { data, info } = await sharp(photo, { failOn: "none" })
    .rotate()
    .resize({ width: MAX_SIDE, height: MAX_SIDE, fit: "inside", withoutEnlargement: true })
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const input = human.tf.tensor4d(Int32Array.from(data), [1, info.height, info.width, 3], "int32");
  try {
    const result = await human.detect(input as unknown as Tensor);
    return {
      width: info.width,
      height: info.height,
      faces: result.face.map((f) => ({
        box: [f.box[0], f.box[1], f.box[2], f.box[3]],
        score: f.score,
        embedding: f.embedding?.length ? Float32Array.from(f.embedding) : null,
      })),
    };
  } finally {
    human.tf.dispose(input);
  }
}

// piscina awaits a promised handler before the thread takes tasks: the models load once, when the thread
// starts. (No top-level await: piscina loads this file with require() first, which cannot wait.)
export default human
  .load()
  .then(() => human.tf.ready())
  .then(() => detectFaces);
