// The face engine's pure parts: which face a template is made of, the template format and the comparison.
import { describe, expect, it } from "vitest";
import { compareTemplates, decodeTemplate, dominantFace, encodeTemplate, type DetectedFace } from "../../src/face/engine.js";

const face = (w: number, h = w, x = 0): DetectedFace => ({ box: [x, 0, w, h], score: 0.9 });

describe("dominantFace", () => {
  it("no face, one face, one clearly dominant face, comparable faces", () => {
    expect(dominantFace([])).toEqual({ cause: "no_face" });
    expect(dominantFace([face(100)])).toEqual({ index: 0 });
    expect(dominantFace([face(40, 40, 10), face(200, 200, 300)])).toEqual({ index: 1 }); // 4% of the area
    expect(dominantFace([face(200), face(180, 180, 300)])).toEqual({ cause: "multiple_faces" });
    expect(dominantFace([face(200), face(100, 100, 300)])).toEqual({ cause: "multiple_faces" }); // exactly 25%
    expect(dominantFace([face(200), face(99, 99, 300)])).toEqual({ index: 0 });
  });
});

describe("templates", () => {
  it("encode and decode as little-endian float32", () => {
    const v = [0.5, -1.25, 3, 0];
    const buf = encodeTemplate(v);
    expect(buf.length).toBe(16);
    expect(buf.readFloatLE(4)).toBe(-1.25);
    expect([...decodeTemplate(buf)]).toEqual(v);
    expect(() => decodeTemplate(Buffer.alloc(6))).toThrow();
  });

  it("cosine: 1 for the same direction, 0 for orthogonal, -1 for opposite; refuses mismatched lengths", () => {
    const a = encodeTemplate([1, 2, 3]);
    expect(compareTemplates(a, encodeTemplate([2, 4, 6]))).toBeCloseTo(1, 6);
    expect(compareTemplates(encodeTemplate([1, 0]), encodeTemplate([0, 1]))).toBe(0);
    expect(compareTemplates(a, encodeTemplate([-1, -2, -3]))).toBeCloseTo(-1, 6);
    expect(compareTemplates(a, encodeTemplate([0, 0, 0]))).toBe(0);
    expect(() => compareTemplates(a, encodeTemplate([1, 2]))).toThrow();
  });
});
