// What makes a face template, named in one place: Human's face detector and 468-point mesh (tfjs, wasm)
// find the face and its landmarks, five of them align it onto the ArcFace 112×112 template (align.ts), and
// `fr_feature.onnx` (from the npm package faceplugin-face-recognition-js, run by onnxruntime-node) turns
// the aligned face into a 512-value embedding. Every file comes from an installed package; nothing is
// downloaded. The model id names every stage and the recognition model's file hash, so a template made by
// any other pipeline (or another copy of the model file) is recognisably another model's.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** A package's folder: walks up from its main entry (not every package exports its package.json). */
function packageDir(name: string): string {
  for (let dir = path.dirname(require.resolve(name)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === name) return dir;
    } catch {
      // no package.json at this level: keep walking up
    }
  }
  throw new Error(`${name} is not installed`);
}

const packageVersion = (dir: string) => (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;

/** @vladmandic/human: detector and mesh models, and its wasm build. */
export const HUMAN_DIR = packageDir("@vladmandic/human");
export const HUMAN_VERSION = packageVersion(HUMAN_DIR);
/** The folder Human's models are read from (and the only one its fetch may read). */
export const HUMAN_MODEL_DIR = path.join(HUMAN_DIR, "models") + path.sep;
/** Human's wasm build: the package's main entry is the tfjs-node build, which needs a native download. */
export const HUMAN_WASM_BUILD = path.join(HUMAN_DIR, "dist", "human.node-wasm.js");
export const TFJS_WASM_DIR = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + path.sep;

/** The recognition model: 512-D embeddings of 112×112 aligned faces, in an MIT-licensed npm package. */
export const RECOGNITION_MODEL_FILE = path.join(packageDir("faceplugin-face-recognition-js"), "model", "fr_feature.onnx");

export const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** sha256 of the recognition model's file as installed, read once. */
export const RECOGNITION_MODEL_SHA256 = sha256Hex(readFileSync(RECOGNITION_MODEL_FILE));

/**
 * The id stored with every template (`templateModel`): detector and mesh version, alignment, recognition
 * model and the first 12 hex digits of its file's sha256. A different id marks a template for re-templating.
 */
export const FACE_TEMPLATE_MODEL_ID = `human-${HUMAN_VERSION}+align5/fr_feature-${RECOGNITION_MODEL_SHA256.slice(0, 12)}`;

/** Values per template (float32). */
export const TEMPLATE_LENGTH = 512;
