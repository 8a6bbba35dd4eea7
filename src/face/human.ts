// Human (@vladmandic/human, tfjs on wasm), for bench:face-match only: its FaceRes descriptor made the first
// templates, and its detector and mesh fed fr_feature before the pipeline ran on onnxruntime alone
// (pipeline.ts). The bench scores both against the shipped pipeline. A development dependency: the service
// never loads this file. The wasm build, the packaged models read from disk, nothing fetched from anywhere.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config, Human as HumanType } from "@vladmandic/human";
import { packageDir, packageVersion } from "./pipeline.js";

const require = createRequire(import.meta.url);

export const HUMAN_DIR = packageDir("@vladmandic/human");
export const HUMAN_VERSION = packageVersion(HUMAN_DIR);
/** The folder Human's models are read from (and the only one its fetch may read). */
export const HUMAN_MODEL_DIR = path.join(HUMAN_DIR, "models") + path.sep;
/** Human's wasm build: the package's main entry is the tfjs-node build, which needs a native download. */
export const HUMAN_WASM_BUILD = path.join(HUMAN_DIR, "dist", "human.node-wasm.js");
export const TFJS_WASM_DIR = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + path.sep;

/**
 * Human loads its models with fetch(); Node's fetch cannot read file:// URLs. Human only ever needs the
 * packaged model files, so this thread's fetch serves those and refuses anything else: no network. Returns a
 * function that puts the original fetch back.
 */
export function serveOnlyHumanModels(): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url.startsWith("file://")) {
      const file = fileURLToPath(url);
      if (file.startsWith(HUMAN_MODEL_DIR)) return new Response(await readFile(file));
    }
    throw new Error(`face engine: refused to fetch ${url}`);
  }) as typeof fetch;
  return () => {
    globalThis.fetch = original;
  };
}

/**
 * A Human that finds every face of a photo with its 468-point mesh, nothing cached between calls (Human
 * caches boxes between video frames, never wanted between photos). `descriptor`: also Human's own FaceRes
 * embedding.
 */
export function createHuman({ descriptor = false }: { descriptor?: boolean } = {}): HumanType {
  const { Human } = require(HUMAN_WASM_BUILD) as { Human: new (config: Partial<Config>) => HumanType };
  const uncached = { skipFrames: 0, skipTime: 0 };
  return new Human({
    backend: "wasm",
    wasmPath: TFJS_WASM_DIR,
    modelBasePath: `file://${HUMAN_MODEL_DIR}`,
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
      description: { ...uncached, enabled: descriptor },
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
}
