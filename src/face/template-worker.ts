// The face engine's worker thread (run by piscina). Loads, ONCE when the thread starts, an onnxruntime session
// of each model of the pipeline (pipeline.ts: detector, landmarks, recognition); then for each photo: decodes
// it with sharp, finds every face (onnx-landmarks.ts), and for a template picks the dominant face, puts 68
// landmarks on it, aligns it on five of them (align.ts) and embeds it. Everything here runs off the main
// event loop.
import { readFileSync } from "node:fs";
import { workerData } from "node:worker_threads";
import sharp from "sharp";
import * as ort from "onnxruntime-node";
import { alignFace, ALIGNED_SIZE, toModelInput, type RgbImage } from "./align.js";
import { STRICT_DECODE } from "../photo/inspect.js";
import { ANALYSIS_MAX_SIDE, dominantFace } from "./engine.js";
import { DETECTOR_INPUT, detectFacesOnnx, fivePointsFrom68, LANDMARK_INPUT, landmarks68 } from "./onnx-landmarks.js";
import { PIPELINE_MODELS, sha256Hex, TEMPLATE_LENGTH, type PipelineModelName } from "./pipeline.js";
import type { FaceWorkerData, FaceWorkerResult, FaceWorkerTask } from "./template-engine.js";

sharp.cache(false); // never keep decoded biometric pixels around between tasks
sharp.concurrency(1); // one core per worker thread: libvips must not fan out over the others

const data = (workerData ?? {}) as FaceWorkerData;

/** One session per model and thread, one intra-op thread each (the engine sizes by threads). */
async function loadModel(name: PipelineModelName, input: number[]): Promise<ort.InferenceSession> {
  const { file } = PIPELINE_MODELS[name];
  const bytes = readFileSync(file);
  // The main thread named its templates after the files it hashed at start; a thread started later (a
  // replaced worker) must run exactly those files, or its templates would carry another model's id.
  const sha = sha256Hex(bytes);
  const expected = data.modelSha256?.[name];
  if (expected && sha !== expected) {
    throw new Error(`face engine: ${file} changed since start (sha256 ${sha.slice(0, 12)}…, expected ${expected.slice(0, 12)}…)`);
  }
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    // "all" includes the layout stage that moves convolutions to a blocked format (NCHWc): the fastest level
    // for all three models here, with the same outputs to 1e-6.
    graphOptimizationLevel: "all",
    // The arena keeps its high-water mark per session; these inputs are small, so allocate plainly.
    enableCpuMemArena: false,
  });
  // warm-up: kernels set up now, not on the first photo
  const warm = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", new Float32Array(input.reduce((a, b) => a * b, 1)), input) });
  for (const t of Object.values(warm)) t.dispose();
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
  for (const t of Object.values(out)) t.dispose();
  return embedding;
}

/**
 * The photo as RGB pixels, upright (EXIF orientation applied), at most ANALYSIS_MAX_SIDE on its longer side
 * (the detector sees a 320×240 version of the whole image, the landmarker a 64×64 crop, the recognition model
 * 112×112, each made from these pixels). `strict`: under the photo rules' decode options, so a decoder warning
 * is an error. Otherwise (a stored photo being re-templated) whatever decodes is used.
 */
async function decode(photo: Buffer, strict: boolean): Promise<RgbImage> {
  const { data: pixels, info } = await sharp(photo, strict ? STRICT_DECODE : { failOn: "none" })
    .rotate()
    .resize({ width: ANALYSIS_MAX_SIDE, height: ANALYSIS_MAX_SIDE, fit: "inside", withoutEnlargement: true })
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), width: info.width, height: info.height };
}

const sessions = Promise.all([
  loadModel("detector", [1, 3, DETECTOR_INPUT.height, DETECTOR_INPUT.width]),
  loadModel("landmarks", [1, 1, LANDMARK_INPUT, LANDMARK_INPUT]),
  loadModel("recognition", [1, 3, ALIGNED_SIZE, ALIGNED_SIZE]),
]);

async function analyse(task: FaceWorkerTask): Promise<FaceWorkerResult> {
  const photo = Buffer.from(task.photo.buffer, task.photo.byteOffset, task.photo.byteLength);
  // Only an engine built for fault-injection tests sets the marker: the thread exits as a native crash would.
  if (data.crashMarker && photo.includes(data.crashMarker)) process.exit(70);

  const [detector, landmarker, recogniser] = await sessions;
  let img: RgbImage;
  try {
    img = await decode(photo, task.checkDecode === true);
  } catch (err) {
    // Corrupt data most likely, but the caller decides (it decodes the photo itself): this decode may also
    // have failed for want of memory, which is no reason to refuse the photo.
    if (task.checkDecode) return { width: 0, height: 0, faces: [], undecoded: true };
    throw err;
  }
  const faces = await detectFacesOnnx(detector, img);
  const result: FaceWorkerResult = { width: img.width, height: img.height, faces };
  if (task.kind === "detect") return result;

  const pick = dominantFace(faces);
  if ("cause" in pick) return { ...result, template: { ok: false, cause: pick.cause } };
  // Without landmarks there is nothing to align on: no face usable for a template.
  const points = await landmarks68(landmarker, img, faces[pick.index]!.box);
  if (!points) return { ...result, template: { ok: false, cause: "no_face" } };
  const aligned = await alignFace(img, fivePointsFrom68(points));
  const embedding = await embed(recogniser, toModelInput(aligned));
  return { ...result, template: { ok: true, index: pick.index, embedding } };
}

// piscina awaits a promised handler before the thread takes tasks: the models load once, when the thread
// starts. (No top-level await: piscina loads this file with require() first, which cannot wait.)
export default sessions.then(() => analyse);
