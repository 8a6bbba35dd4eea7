// What makes a face template, named in one place. Three ONNX models of one npm package
// (faceplugin-face-recognition-js), all run by onnxruntime-node: `fr_detect.onnx` finds the faces (an
// UltraFace RFB-320 detector), `fr_landmark.onnx` puts 68 landmarks on the chosen one, five of them align it
// onto the ArcFace 112×112 template (align.ts), and `fr_feature.onnx` turns the aligned face into a 512-value
// embedding. (Until this model id, Human's tfjs detector and mesh did the first two steps: twice the CPU per
// template and a wasm heap per worker, for no better separation; README "Face templates".) Every file comes
// from an installed package; nothing is downloaded. The model id names every stage and each model file's
// hash, so a template made by any other pipeline (or another copy of a model file) is recognisably another
// model's.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** A package's folder: walks up from its main entry (not every package exports its package.json). */
export function packageDir(name: string): string {
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

export const packageVersion = (dir: string) => (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;

export const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const MODEL_DIR = path.join(packageDir("faceplugin-face-recognition-js"), "model");

export interface PipelineModel {
  file: string;
  /** sha256 of the file as installed, read once at start. */
  sha256: string;
}

const model = (name: string): PipelineModel => {
  const file = path.join(MODEL_DIR, name);
  return { file, sha256: sha256Hex(readFileSync(file)) };
};

/** The pipeline's models, in the package the recognition model comes from (MIT licence file; README). */
export const PIPELINE_MODELS = {
  /** Face detector: 1×3×240×320 RGB, (x − 127) / 128 → 4420 boxes (normalised corners) and scores. */
  detector: model("fr_detect.onnx"),
  /** 68 landmarks: 1×1×64×64 grey crop of a detector box, x / 256 → 136 values, normalised to the box. */
  landmarks: model("fr_landmark.onnx"),
  /** Recognition: 1×3×112×112 aligned RGB, (x − 127) / 128 → 512-D embedding. */
  recognition: model("fr_feature.onnx"),
} as const;
export type PipelineModelName = keyof typeof PIPELINE_MODELS;

/** The recognition model's file (bench:face-match's Human alternatives reuse it). */
export const RECOGNITION_MODEL_FILE = PIPELINE_MODELS.recognition.file;

/**
 * The id stored with every template (`templateModel`): each stage and the first 12 hex digits of its model
 * file's sha256. A different id marks a template for re-templating.
 */
export const FACE_TEMPLATE_MODEL_ID =
  `fr_detect-${PIPELINE_MODELS.detector.sha256.slice(0, 12)}+fr_landmark68-${PIPELINE_MODELS.landmarks.sha256.slice(0, 12)}` +
  `+align5/fr_feature-${PIPELINE_MODELS.recognition.sha256.slice(0, 12)}`;

/** Values per template (float32). */
export const TEMPLATE_LENGTH = 512;
