// The face engine's worker thread (run by piscina). Loads, ONCE when the thread starts, Human's face detector
// and mesh (tfjs, wasm backend) and an onnxruntime session of the recognition model (pipeline.ts); then for
// each photo: decodes it with sharp, finds every face with its mesh, and for a template picks the dominant
// face, aligns it on five landmarks (align.ts) and embeds it. Everything here runs off the main event loop.
import { readFileSync } from "node:fs";
import { workerData } from "node:worker_threads";
import sharp from "sharp";
import type { FaceResult, Tensor } from "@vladmandic/human";
import * as ort from "onnxruntime-node";
import { alignFace, ALIGNED_SIZE, fivePointsFromMesh, toModelInput, type RgbImage } from "./align.js";
import { dominantFace } from "./engine.js";
import { createHuman, serveOnlyHumanModels } from "./human.js";
import { RECOGNITION_MODEL_FILE, sha256Hex, TEMPLATE_LENGTH } from "./pipeline.js";
import type { FaceWorkerData, FaceWorkerResult, FaceWorkerTask } from "./template-engine.js";

sharp.cache(false); // never keep decoded biometric pixels around between tasks
sharp.concurrency(1); // one core per worker thread: libvips must not fan out over the others

const data = (workerData ?? {}) as FaceWorkerData;

serveOnlyHumanModels();

/**
 * The longer side photos are reduced to before detection. The detector looks at a 256×256 version of the
 * whole image and the mesh at a 192×192 crop, so more pixels add tensor memory (tfjs's wasm heap grows to
 * the largest input and never shrinks) but no detection quality; 640 px still leaves a portrait's face
 * several times the 112 px the recognition model sees.
 */
export const MAX_SIDE = 640;
const human = createHuman();

/** The recognition model's session: one per thread, one intra-op thread (the engine sizes by threads). */
async function loadRecognitionModel(): Promise<ort.InferenceSession> {
  const bytes = readFileSync(RECOGNITION_MODEL_FILE);
  // The main thread named its templates after the file it hashed at start; a thread started later (a
  // replaced worker) must run exactly that file, or its templates would carry another model's id.
  const sha = sha256Hex(bytes);
  if (data.recognitionModelSha256 && sha !== data.recognitionModelSha256) {
    throw new Error(`face engine: ${RECOGNITION_MODEL_FILE} changed since start (sha256 ${sha.slice(0, 12)}…, expected ${data.recognitionModelSha256.slice(0, 12)}…)`);
  }
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    // Not "all": its layout stage rewrites the convolutions to a blocked format (NCHWc) that makes this model
    // three times slower here (56 ms against 19 ms on one core), with the same output to 1e-7.
    graphOptimizationLevel: "extended",
    // The arena keeps its high-water mark per session; one 112×112 input needs little, so allocate plainly.
    enableCpuMemArena: false,
  });
  await embed(session, new Float32Array(3 * ALIGNED_SIZE * ALIGNED_SIZE)); // warm-up: kernels set up now
  return session;
}

async function embed(session: ort.InferenceSession, input: Float32Array): Promise<Float32Array> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor("float32", input, [1, 3, ALIGNED_SIZE, ALIGNED_SIZE]) };
  const out = await session.run(feeds);
  const tensor = out[session.outputNames[0]!]!;
  const raw = tensor.data as Float32Array;
  if (raw.length !== TEMPLATE_LENGTH) throw new Error(`recognition model gave ${raw.length} values, expected ${TEMPLATE_LENGTH}`);
  // Unit length: cosine similarity is then a dot product, and nothing depends on the model's raw scale.
  let norm = 0;
  for (const v of raw) norm += v * v;
  norm = Math.sqrt(norm);
  const embedding = new Float32Array(TEMPLATE_LENGTH);
  for (let i = 0; i < TEMPLATE_LENGTH; i++) embedding[i] = norm > 0 ? raw[i]! / norm : 0;
  tensor.dispose();
  return embedding;
}

/** The photo as RGB pixels, upright (EXIF orientation applied), at most MAX_SIDE on its longer side. */
async function decode(photo: Buffer): Promise<RgbImage> {
  const { data: pixels, info } = await sharp(photo, { failOn: "none" })
    .rotate()
    .resize({ width: MAX_SIDE, height: MAX_SIDE, fit: "inside", withoutEnlargement: true })
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), width: info.width, height: info.height };
}

async function findFaces(img: RgbImage): Promise<FaceResult[]> {
  const input = human.tf.tensor4d(img.data, [1, img.height, img.width, 3], "int32");
  try {
    return (await human.detect(input as unknown as Tensor)).face;
  } finally {
    human.tf.dispose(input);
  }
}

const sessionReady = loadRecognitionModel();

async function analyse(task: FaceWorkerTask): Promise<FaceWorkerResult> {
  const photo = Buffer.from(task.photo.buffer, task.photo.byteOffset, task.photo.byteLength);
  // Only an engine built for fault-injection tests sets the marker: the thread exits as a native crash would.
  if (data.crashMarker && photo.includes(data.crashMarker)) process.exit(70);

  const img = await decode(photo);
  const found = await findFaces(img);
  const faces = found.map((f) => ({ box: [f.box[0], f.box[1], f.box[2], f.box[3]] as [number, number, number, number], score: f.score }));
  const result: FaceWorkerResult = { width: img.width, height: img.height, faces };
  if (task.kind === "detect") return result;

  const pick = dominantFace(faces);
  if ("cause" in pick) return { ...result, template: { ok: false, cause: pick.cause } };
  // Without a full mesh there are no landmarks to align on: no face usable for a template.
  const points = fivePointsFromMesh(found[pick.index]!.mesh ?? []);
  if (!points) return { ...result, template: { ok: false, cause: "no_face" } };
  const aligned = await alignFace(img, points);
  const embedding = await embed(await sessionReady, toModelInput(aligned));
  return { ...result, template: { ok: true, index: pick.index, embedding } };
}

// piscina awaits a promised handler before the thread takes tasks: the models load once, when the thread
// starts. (No top-level await: piscina loads this file with require() first, which cannot wait.)
export default Promise.all([human.load().then(() => human.tf.ready()), sessionReady]).then(() => analyse);
