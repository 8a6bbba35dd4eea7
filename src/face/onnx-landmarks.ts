// The recognition model's own package's face detector and landmarker, on onnxruntime-node (native, no tfjs):
// `fr_detect.onnx` (an UltraFace RFB-320 detector: 320×240 RGB in, 4420 scored boxes out, corner form,
// normalised) and `fr_landmark.onnx` (68 iBUG points of a 64×64 grey crop of the detector's box, normalised
// to that box). The package pairs them with `fr_feature.onnx`; the five alignment points are the package's
// own reduction of the 68 (eye centres from the four lid points, nose tip, mouth corners from the outer and
// inner lip corners).
import sharp from "sharp";
import * as ort from "onnxruntime-node";
import type { Point2, RgbImage } from "./align.js";

export const DETECTOR_INPUT = { width: 320, height: 240 } as const;
export const LANDMARK_INPUT = 64;
/** The package's own settings for its detector. */
export const DETECTOR_MIN_SCORE = 0.65;
const NMS_IOU = 0.4;

export type Box = [number, number, number, number];
export interface ScoredBox {
  /** x, y, width, height in the image's pixels */
  box: Box;
  score: number;
}

/** Every face of `img`: the detector on the image letterboxed into 320×240 (aspect kept), then NMS. */
export async function detectFacesOnnx(session: ort.InferenceSession, img: RgbImage): Promise<ScoredBox[]> {
  const { width: W, height: H } = DETECTOR_INPUT;
  const scale = Math.min(W / img.width, H / img.height);
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const left = Math.floor((W - w) / 2);
  const top = Math.floor((H - h) / 2);
  const pixels = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(w, h, { fit: "fill" })
    .extend({ left, top, right: W - w - left, bottom: H - h - top, background: { r: 127, g: 127, b: 127 } })
    .raw()
    .toBuffer();
  const plane = W * H;
  const input = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    input[i] = (pixels[i * 3]! - 127) / 128;
    input[plane + i] = (pixels[i * 3 + 1]! - 127) / 128;
    input[2 * plane + i] = (pixels[i * 3 + 2]! - 127) / 128;
  }
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", input, [1, 3, H, W]) });
  const scores = out.scores!.data as Float32Array;
  const boxes = out.boxes!.data as Float32Array;
  const candidates: ScoredBox[] = [];
  for (let i = 0; i < scores.length / 2; i++) {
    const score = scores[i * 2 + 1]!;
    if (score < DETECTOR_MIN_SCORE) continue;
    // normalised corners in the letterboxed input → the image's pixels
    const x1 = (boxes[i * 4]! * W - left) / scale;
    const y1 = (boxes[i * 4 + 1]! * H - top) / scale;
    const x2 = (boxes[i * 4 + 2]! * W - left) / scale;
    const y2 = (boxes[i * 4 + 3]! * H - top) / scale;
    if (x2 <= x1 || y2 <= y1) continue;
    candidates.push({ box: [x1, y1, x2 - x1, y2 - y1], score });
  }
  for (const t of Object.values(out)) t.dispose();
  return nms(candidates);
}

function iou(a: Box, b: Box): number {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

function nms(candidates: ScoredBox[]): ScoredBox[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: ScoredBox[] = [];
  for (const c of sorted) if (kept.every((k) => iou(k.box, c.box) < NMS_IOU)) kept.push(c);
  return kept;
}

/** The 68 landmarks of the face in `box` (image pixels), from a 64×64 grey crop of exactly that box. */
export async function landmarks68(session: ort.InferenceSession, img: RgbImage, box: Box): Promise<Point2[] | null> {
  const left = Math.max(0, Math.floor(box[0]));
  const top = Math.max(0, Math.floor(box[1]));
  const width = Math.min(img.width, Math.ceil(box[0] + box[2])) - left;
  const height = Math.min(img.height, Math.ceil(box[1] + box[3])) - top;
  if (width < 2 || height < 2) return null;
  const grey = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract({ left, top, width, height })
    .resize(LANDMARK_INPUT, LANDMARK_INPUT, { fit: "fill" })
    .greyscale()
    .raw()
    .toBuffer();
  const input = new Float32Array(LANDMARK_INPUT * LANDMARK_INPUT);
  for (let i = 0; i < input.length; i++) input[i] = grey[i]! / 256;
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", input, [1, 1, LANDMARK_INPUT, LANDMARK_INPUT]) });
  const values = out[session.outputNames[0]!]!.data as Float32Array;
  for (const t of Object.values(out)) t.dispose();
  if (values.length !== 136) return null;
  const points: Point2[] = [];
  for (let i = 0; i < 68; i++) points.push([values[i * 2]! * width + left, values[i * 2 + 1]! * height + top]);
  return points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) ? points : null;
}

/** The five alignment points (ARCFACE_112's order) from 68 iBUG landmarks, as the package reduces them. */
export function fivePointsFrom68(p: readonly Point2[]): Point2[] {
  const mean = (...ids: number[]): Point2 => [ids.reduce((s, i) => s + p[i]![0], 0) / ids.length, ids.reduce((s, i) => s + p[i]![1], 0) / ids.length];
  return [mean(37, 38, 40, 41), mean(43, 44, 46, 47), p[30]!, mean(48, 60), mean(54, 64)];
}
