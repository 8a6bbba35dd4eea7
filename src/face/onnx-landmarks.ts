// The recognition model's own package's face detector and landmarker, on onnxruntime-node (native, no tfjs):
// `fr_detect.onnx` (by its inputs and outputs an UltraFace RFB-320 detector: 320×240 RGB in, 4420 scored
// boxes out, corner form, normalised) and `fr_landmark.onnx` (68 iBUG points of a 64×64 grey crop of the
// detector's box, normalised to that box). The package pairs them with `fr_feature.onnx`; the five alignment
// points are the package's own reduction of the 68 (eye centres from the four lid points, nose tip, mouth
// corners from the outer and inner lip corners).
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
  // the letterbox's border is mid-grey: 0 after normalisation
  const input = new Float32Array(3 * W * H);
  resample(img, { x: 0, y: 0, width: img.width, height: img.height }, w, h, (o, r, g, b) => {
    const i = (top + Math.floor(o / w)) * W + left + (o % w);
    input[i] = (r - 127) / 128;
    input[W * H + i] = (g - 127) / 128;
    input[2 * W * H + i] = (b - 127) / 128;
  }, "2x2");
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
  const input = new Float32Array(LANDMARK_INPUT * LANDMARK_INPUT);
  // grey as libvips makes it (Rec. 601 luma), / 256 as the package feeds it
  resample(img, { x: left, y: top, width, height }, LANDMARK_INPUT, LANDMARK_INPUT, (o, r, g, b) => {
    input[o] = (0.299 * r + 0.587 * g + 0.114 * b) / 256;
  });
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", input, [1, 1, LANDMARK_INPUT, LANDMARK_INPUT]) });
  const values = out[session.outputNames[0]!]!.data as Float32Array;
  for (const t of Object.values(out)) t.dispose();
  if (values.length !== 136) return null;
  const points: Point2[] = [];
  for (let i = 0; i < 68; i++) points.push([values[i * 2]! * width + left, values[i * 2 + 1]! * height + top]);
  return points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) ? points : null;
}

/**
 * Resamples the `rect` of `img` into outW×outH pixels (stretched to fill), calling `put(outIndex, r, g, b)`
 * for each output pixel in row order. Reducing, `filter` "box" is the mean of every source pixel under the
 * output pixel (no aliasing: the landmarker's small crop), "2x2" the mean of four samples spread over it
 * (a quarter of the work for a large reduction: the detector's, which is not sensitive to it); enlarging, a
 * bilinear sample. Plain loops: cheaper here than handing the decoded image to libvips again.
 */
export function resample(
  img: RgbImage,
  rect: { x: number; y: number; width: number; height: number },
  outW: number,
  outH: number,
  put: (o: number, r: number, g: number, b: number) => void,
  filter: "box" | "2x2" = "box",
): void {
  const { data, width: W, height: H } = img;
  const sx = rect.width / outW;
  const sy = rect.height / outH;
  const px = (x: number, y: number, c: number) => data[(Math.min(H - 1, Math.max(0, y)) * W + Math.min(W - 1, Math.max(0, x))) * 3 + c]!;
  for (let v = 0; v < outH; v++) {
    for (let u = 0; u < outW; u++) {
      const o = v * outW + u;
      if (filter === "2x2" && sx >= 2 && sy >= 2) {
        // inside the image: a reduction's samples never leave the rect, which lies within it
        const ia = (Math.floor(rect.y + (v + 0.25) * sy) * W + Math.floor(rect.x + (u + 0.25) * sx)) * 3;
        const ib = (Math.floor(rect.y + (v + 0.25) * sy) * W + Math.floor(rect.x + (u + 0.75) * sx)) * 3;
        const ic = (Math.floor(rect.y + (v + 0.75) * sy) * W + Math.floor(rect.x + (u + 0.25) * sx)) * 3;
        const id = (Math.floor(rect.y + (v + 0.75) * sy) * W + Math.floor(rect.x + (u + 0.75) * sx)) * 3;
        put(
          o,
          (data[ia]! + data[ib]! + data[ic]! + data[id]!) / 4,
          (data[ia + 1]! + data[ib + 1]! + data[ic + 1]! + data[id + 1]!) / 4,
          (data[ia + 2]! + data[ib + 2]! + data[ic + 2]! + data[id + 2]!) / 4,
        );
      } else if (sx >= 1 && sy >= 1) {
        const x0 = Math.max(0, Math.floor(rect.x + u * sx));
        const x1 = Math.min(W, Math.max(x0 + 1, Math.ceil(rect.x + (u + 1) * sx)));
        const y0 = Math.max(0, Math.floor(rect.y + v * sy));
        const y1 = Math.min(H, Math.max(y0 + 1, Math.ceil(rect.y + (v + 1) * sy)));
        let r = 0;
        let g = 0;
        let b = 0;
        for (let y = y0; y < y1; y++) {
          for (let x = x0, i = (y * W + x0) * 3; x < x1; x++, i += 3) {
            r += data[i]!;
            g += data[i + 1]!;
            b += data[i + 2]!;
          }
        }
        const n = Math.max(1, (x1 - x0) * (y1 - y0));
        put(o, r / n, g / n, b / n);
      } else {
        // pixel centres: output (u + 0.5) maps to source rect.x + (u + 0.5)·sx, sampled between integer centres
        const x = rect.x + (u + 0.5) * sx - 0.5;
        const y = rect.y + (v + 0.5) * sy - 0.5;
        const xf = Math.floor(x);
        const yf = Math.floor(y);
        const fx = x - xf;
        const fy = y - yf;
        const at = (c: number) =>
          (1 - fy) * ((1 - fx) * px(xf, yf, c) + fx * px(xf + 1, yf, c)) + fy * ((1 - fx) * px(xf, yf + 1, c) + fx * px(xf + 1, yf + 1, c));
        put(o, at(0), at(1), at(2));
      }
    }
  }
}

/** The five alignment points (ARCFACE_112's order) from 68 iBUG landmarks, as the package reduces them. */
export function fivePointsFrom68(p: readonly Point2[]): Point2[] {
  const mean = (...ids: number[]): Point2 => [ids.reduce((s, i) => s + p[i]![0], 0) / ids.length, ids.reduce((s, i) => s + p[i]![1], 0) / ids.length];
  return [mean(37, 38, 40, 41), mean(43, 44, 46, 47), p[30]!, mean(48, 60), mean(54, 64)];
}
