// Face alignment for the template model: five landmarks of the face (eye centres, nose tip, mouth corners)
// are mapped by a least-squares similarity transform onto the standard ArcFace 112×112 positions, and the
// face is resampled into that square. The recognition model was trained on faces aligned this way; how well
// it separates people depends on it.

import sharp from "sharp";

export type Point2 = readonly [number, number];

/** Where the five points sit in a 112×112 ArcFace crop (image-left eye, image-right eye, nose, mouth left, mouth right). */
export const ARCFACE_112: readonly Point2[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

export const ALIGNED_SIZE = 112;

/**
 * The five points from Human's 468-point face mesh, in the order of ARCFACE_112: the eye centres are the
 * means of each eye's corners (33 & 133 on the image's left, 362 & 263 on its right), then the nose tip (1)
 * and the mouth corners (61, 291). Null when the mesh is incomplete.
 */
export function fivePointsFromMesh(mesh: readonly (readonly (number | undefined)[])[]): Point2[] | null {
  if (mesh.length < 468) return null;
  const p = (i: number): Point2 => [mesh[i]?.[0] ?? Number.NaN, mesh[i]?.[1] ?? Number.NaN];
  const mid = (a: number, b: number): Point2 => [(p(a)[0] + p(b)[0]) / 2, (p(a)[1] + p(b)[1]) / 2];
  const points = [mid(33, 133), mid(362, 263), p(1), p(61), p(291)];
  return points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) ? points : null;
}

/**
 * A similarity transform (uniform scale, rotation, translation) as the 2×3 matrix [a, −b, tx; b, a, ty]:
 * x' = a·x − b·y + tx, y' = b·x + a·y + ty.
 */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** The least-squares similarity transform taking `src` onto `dst` (Umeyama's closed form in 2-D, no reflection). */
export function estimateSimilarity(src: readonly Point2[], dst: readonly Point2[]): Similarity {
  if (src.length !== dst.length || src.length < 2) throw new Error("need matching point lists of at least two points");
  const n = src.length;
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]![0];
    sy += src[i]![1];
    dx += dst[i]![0];
    dy += dst[i]![1];
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]![0] - sx;
    const py = src[i]![1] - sy;
    const qx = dst[i]![0] - dx;
    const qy = dst[i]![1] - dy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (norm === 0) throw new Error("degenerate landmarks (all in one place)");
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function applySimilarity(m: Similarity, [x, y]: Point2): Point2 {
  return [m.a * x - m.b * y + m.tx, m.b * x + m.a * y + m.ty];
}

export function invertSimilarity(m: Similarity): Similarity {
  const d = m.a * m.a + m.b * m.b;
  if (d === 0) throw new Error("singular transform");
  const a = m.a / d;
  const b = -m.b / d;
  return { a, b, tx: -(a * m.tx - b * m.ty), ty: -(b * m.tx + a * m.ty) };
}

/** The scale factor of a similarity transform (output pixels per input pixel). */
export const similarityScale = (m: Similarity): number => Math.hypot(m.a, m.b);

/** An RGB image as packed 8-bit pixels, row by row. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A general 2-D affine map [a, b, c, d, e, f]: x = a·u + b·v + c, y = d·u + e·v + f. */
export type Affine = readonly [number, number, number, number, number, number];

export const similarityAsAffine = (m: Similarity): Affine => [m.a, -m.b, m.tx, m.b, m.a, m.ty];

/**
 * Resamples `src` into a size×size RGB image: output pixel (u, v) takes the source value at
 * `outToSrc(u, v)` (pixel centres at integer coordinates, as OpenCV's warpAffine with WARP_INVERSE_MAP),
 * bilinear, black outside the source. Bilinear sampling does not average away detail that a strong
 * reduction would alias: reduce the source to about the output's scale first (see the worker).
 */
export function warpAffine(src: RgbImage, outToSrc: Affine, size = ALIGNED_SIZE): RgbImage {
  const [a, b, c, d, e, f] = outToSrc;
  const out = new Uint8Array(size * size * 3);
  const { data, width, height } = src;
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const o = (v * size + u) * 3;
      for (let ch = 0; ch < 3; ch++) {
        let acc = 0;
        for (let j = 0; j < 2; j++) {
          const yy = y0 + j;
          if (yy < 0 || yy >= height) continue;
          const wy = j === 0 ? 1 - fy : fy;
          for (let i = 0; i < 2; i++) {
            const xx = x0 + i;
            if (xx < 0 || xx >= width) continue;
            const wx = i === 0 ? 1 - fx : fx;
            acc += wx * wy * data[(yy * width + xx) * 3 + ch]!;
          }
        }
        out[o + ch] = Math.round(acc);
      }
    }
  }
  return { data: out, width: size, height: size };
}

/** Below this output-per-source scale the source is first reduced with a proper (anti-aliasing) filter. */
const DIRECT_WARP_MIN_SCALE = 0.75;

/**
 * The face of `img` whose five landmarks are `points`, aligned onto ARCFACE_112 in a 112×112 crop. A face
 * larger than the crop (the usual case: an eye distance of 80 px becomes 35) is first cut out and reduced by
 * sharp to the crop's scale, so the warp itself stays near 1:1.
 */
export async function alignFace(img: RgbImage, points: readonly Point2[]): Promise<RgbImage> {
  const m = estimateSimilarity(points, ARCFACE_112);
  const scale = similarityScale(m);
  const outToSrc = similarityAsAffine(invertSimilarity(m));
  if (scale >= DIRECT_WARP_MIN_SCALE) return warpAffine(img, outToSrc);
  // the source region the crop comes from (its corners mapped back), a pixel of margin for bilinear
  const inv = invertSimilarity(m);
  const corners = ([[-1, -1], [ALIGNED_SIZE, -1], [-1, ALIGNED_SIZE], [ALIGNED_SIZE, ALIGNED_SIZE]] as const).map((p) => applySimilarity(inv, p));
  const left = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0]))) - 1);
  const top = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1]))) - 1);
  const right = Math.min(img.width, Math.ceil(Math.max(...corners.map((p) => p[0]))) + 2);
  const bottom = Math.min(img.height, Math.ceil(Math.max(...corners.map((p) => p[1]))) + 2);
  if (right - left < 2 || bottom - top < 2) return warpAffine(img, outToSrc); // face outside the image: black
  const width = right - left;
  const height = bottom - top;
  const rw = Math.max(1, Math.round(width * scale));
  const rh = Math.max(1, Math.round(height * scale));
  const reduced = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract({ left, top, width, height })
    .resize(rw, rh, { fit: "fill" })
    .raw()
    .toBuffer();
  // source pixel x → reduced pixel (x − left + 0.5)·rw/width − 0.5 (centres align), likewise y
  const kx = rw / width;
  const ky = rh / height;
  const [a, b, c, d, e, f] = outToSrc;
  const toReduced: Affine = [kx * a, kx * b, kx * c + (0.5 - left) * kx - 0.5, ky * d, ky * e, ky * f + (0.5 - top) * ky - 0.5];
  return warpAffine({ data: reduced, width: rw, height: rh }, toReduced);
}

/** The model's input: float32 NCHW [1, 3, size, size], RGB, (value − 127) / 128. */
export function toModelInput(img: RgbImage): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = (img.data[i * 3]! - 127) / 128;
    out[plane + i] = (img.data[i * 3 + 1]! - 127) / 128;
    out[2 * plane + i] = (img.data[i * 3 + 2]! - 127) / 128;
  }
  return out;
}
