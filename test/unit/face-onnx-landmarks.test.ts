// The pure parts of the detector's and landmarker's front end (onnx-landmarks.ts): resampling into their
// inputs, and the package's reduction of 68 landmarks to the five alignment points.
import { describe, expect, it } from "vitest";
import type { RgbImage } from "../../src/face/align.js";
import { fivePointsFrom68, resample } from "../../src/face/onnx-landmarks.js";

const image = (width: number, height: number, at: (x: number, y: number) => [number, number, number]): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(at(x, y), (y * width + x) * 3);
  return { data, width, height };
};
const run = (img: RgbImage, rect: { x: number; y: number; width: number; height: number }, w: number, h: number, filter?: "box" | "2x2") => {
  const out: [number, number, number][] = [];
  resample(img, rect, w, h, (o, r, g, b) => void (out[o] = [r, g, b]), filter);
  return out;
};

describe("resample", () => {
  it("reducing with box: each output pixel is the mean of the source pixels under it", () => {
    // 4×2 source: columns 0-1 and 2-3 reduce to one pixel each
    const img = image(4, 2, (x, y) => [x * 10 + y, 100, x < 2 ? 0 : 200]);
    expect(run(img, { x: 0, y: 0, width: 4, height: 2 }, 2, 1)).toEqual([
      [(0 + 10 + 1 + 11) / 4, 100, 0],
      [(20 + 30 + 21 + 31) / 4, 100, 200],
    ]);
  });

  it("a rect inside the image: only its pixels count, in row order", () => {
    const img = image(6, 6, (x, y) => [x, y, 7]);
    expect(run(img, { x: 2, y: 3, width: 2, height: 2 }, 2, 2)).toEqual([
      [2, 3, 7],
      [3, 3, 7],
      [2, 4, 7],
      [3, 4, 7],
    ]);
  });

  it("reducing with 2x2: four samples spread over each output pixel", () => {
    // 8×8 → 2×2: output (0,0) samples x,y ∈ {1, 3}
    const img = image(8, 8, (x, y) => [x, y, x + y]);
    expect(run(img, { x: 0, y: 0, width: 8, height: 8 }, 2, 2, "2x2")).toEqual([
      [2, 2, 4],
      [6, 2, 8],
      [2, 6, 8],
      [6, 6, 12],
    ]);
    // a reduction under 2× falls back to the box mean
    expect(run(image(3, 3, () => [9, 9, 9]), { x: 0, y: 0, width: 3, height: 3 }, 2, 2, "2x2")).toEqual(Array(4).fill([9, 9, 9]));
  });

  it("enlarging: bilinear between pixel centres, edges held", () => {
    const img = image(2, 1, (x) => [x * 100, 0, 50]);
    const out = run(img, { x: 0, y: 0, width: 2, height: 1 }, 4, 1);
    expect(out.map((p) => p[0])).toEqual([0, 25, 75, 100]);
    expect(out.every((p) => p[1] === 0 && p[2] === 50)).toBe(true);
  });
});

describe("fivePointsFrom68", () => {
  it("eye centres from the four lid points, the nose tip, mouth corners from the outer and inner lip corners", () => {
    const points = Array.from({ length: 68 }, (_, i) => [i, 1000 + i] as const);
    expect(fivePointsFrom68(points)).toEqual([
      [(37 + 38 + 40 + 41) / 4, 1000 + (37 + 38 + 40 + 41) / 4],
      [(43 + 44 + 46 + 47) / 4, 1000 + (43 + 44 + 46 + 47) / 4],
      [30, 1030],
      [(48 + 60) / 2, 1000 + (48 + 60) / 2],
      [(54 + 64) / 2, 1000 + (54 + 64) / 2],
    ]);
  });
});
