// Five-point alignment (src/face/align.ts): the transform, the mesh points, the resampling and the model input.
import { describe, expect, it } from "vitest";
import {
  alignFace,
  applySimilarity,
  ARCFACE_112,
  estimateSimilarity,
  fivePointsFromMesh,
  invertSimilarity,
  similarityAsAffine,
  similarityScale,
  toModelInput,
  warpAffine,
  type Point2,
  type RgbImage,
} from "../../src/face/align.js";

/** A gradient image whose pixel values say where they came from: R = x, G = y (up to 255). */
function coordinateImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([Math.min(255, x), Math.min(255, y), 128], (y * width + x) * 3);
  return { data, width, height };
}

describe("estimateSimilarity", () => {
  it("recovers a known scale, rotation and translation exactly", () => {
    const t = { a: 0.4 * Math.cos(0.3), b: 0.4 * Math.sin(0.3), tx: -12, ty: 30 };
    const src: Point2[] = [[150, 200], [240, 195], [196, 250], [160, 300], [230, 305]];
    const m = estimateSimilarity(src, src.map((p) => applySimilarity(t, p)));
    expect(m.a).toBeCloseTo(t.a, 9);
    expect(m.b).toBeCloseTo(t.b, 9);
    expect(m.tx).toBeCloseTo(t.tx, 6);
    expect(m.ty).toBeCloseTo(t.ty, 6);
    expect(similarityScale(m)).toBeCloseTo(0.4, 9);
  });

  it("maps noisy landmarks onto the ArcFace template in the least-squares sense, and inverts", () => {
    const src: Point2[] = ARCFACE_112.map(([x, y], i) => [3 * x + 100 + (i % 2 ? 1.5 : -1.5), 3 * y + 40]);
    const m = estimateSimilarity(src, ARCFACE_112);
    expect(similarityScale(m)).toBeCloseTo(1 / 3, 2);
    src.forEach((p, i) => {
      const [x, y] = applySimilarity(m, p);
      expect(Math.hypot(x - ARCFACE_112[i]![0], y - ARCFACE_112[i]![1])).toBeLessThan(1);
    });
    const back = applySimilarity(invertSimilarity(m), applySimilarity(m, [10, 20]));
    expect(back[0]).toBeCloseTo(10, 9);
    expect(back[1]).toBeCloseTo(20, 9);
  });

  it("refuses degenerate landmarks", () => {
    expect(() => estimateSimilarity([[5, 5], [5, 5]], ARCFACE_112.slice(0, 2))).toThrow(/degenerate/);
    expect(() => estimateSimilarity([[1, 2]], ARCFACE_112.slice(0, 2))).toThrow();
  });
});

describe("fivePointsFromMesh", () => {
  it("eye centres from the eye corners (33/133, 362/263), nose tip 1, mouth corners 61 and 291", () => {
    const mesh = Array.from({ length: 468 }, (_, i) => [i, 1000 + i, 0]);
    expect(fivePointsFromMesh(mesh)).toEqual([
      [(33 + 133) / 2, 1000 + (33 + 133) / 2],
      [(362 + 263) / 2, 1000 + (362 + 263) / 2],
      [1, 1001],
      [61, 1061],
      [291, 1291],
    ]);
  });

  it("null for an incomplete mesh or missing coordinates", () => {
    expect(fivePointsFromMesh([])).toBeNull();
    const mesh: (number | undefined)[][] = Array.from({ length: 468 }, () => [1, 2]);
    mesh[61] = [undefined, 3];
    expect(fivePointsFromMesh(mesh)).toBeNull();
  });
});

describe("warping", () => {
  it("samples where the map says, bilinear between pixels, black outside the source", () => {
    const src = coordinateImage(200, 200);
    // output (u, v) ← source (u + 10.5, v + 20)
    const out = warpAffine(src, [1, 0, 10.5, 0, 1, 20], 4);
    const px = (u: number, v: number) => [...out.data.slice((v * 4 + u) * 3, (v * 4 + u) * 3 + 3)];
    expect(px(0, 0)).toEqual([11, 20, 128]); // 10.5 rounds up between 10 and 11
    expect(px(3, 2)).toEqual([14, 22, 128]);
    const outside = warpAffine(src, [1, 0, 500, 0, 1, 0], 2);
    expect([...outside.data]).toEqual(new Array(12).fill(0));
  });

  it("aligns a face: its landmarks land on the template, also through the reduce-first path", async () => {
    for (const k of [1.1, 3]) {
      // an image where the template's points, scaled by k and shifted, are marked by bright squares
      const img = coordinateImage(400, 400);
      const marks: Point2[] = ARCFACE_112.map(([x, y]) => [x * k + 20, y * k + 10]);
      const size = Math.round(2 * k);
      for (const [mx, my] of marks) {
        for (let y = Math.round(my) - size; y <= Math.round(my) + size; y++) for (let x = Math.round(mx) - size; x <= Math.round(mx) + size; x++) img.data.set([255, 255, 255], (y * 400 + x) * 3);
      }
      const aligned = await alignFace(img, marks);
      expect(aligned.width).toBe(112);
      for (const [x, y] of ARCFACE_112) {
        const i = (Math.round(y) * 112 + Math.round(x)) * 3;
        expect(aligned.data[i + 2], `mark at (${x}, ${y}), k=${k}`).toBeGreaterThan(200); // blue channel: only the marks are bright
      }
      // elsewhere the coordinates come through: R of the crop's left edge is the source x there
      const m = estimateSimilarity(marks, ARCFACE_112);
      const [sx] = applySimilarity(invertSimilarity(m), [0, 0]);
      expect(Math.abs(aligned.data[0]! - sx)).toBeLessThan(k * 2 + 2);
    }
  });

  it("similarityAsAffine is the same map", () => {
    const m = { a: 0.8, b: -0.2, tx: 3, ty: -4 };
    const [a, b, c, d, e, f] = similarityAsAffine(m);
    const [x, y] = applySimilarity(m, [7, 9]);
    expect(a * 7 + b * 9 + c).toBeCloseTo(x, 12);
    expect(d * 7 + e * 9 + f).toBeCloseTo(y, 12);
  });
});

describe("toModelInput", () => {
  it("NCHW float32, RGB planes, (v - 127) / 128", () => {
    const img: RgbImage = { data: Uint8Array.from([255, 127, 0, 1, 2, 3]), width: 2, height: 1 };
    expect([...toModelInput(img)]).toEqual([1, (1 - 127) / 128, 0, (2 - 127) / 128, -127 / 128, (3 - 127) / 128]);
  });
});
