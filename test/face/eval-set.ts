// The face-match evaluation set (eval-set.json beside this file), built at run time from images that ship
// inside npm packages (@vladmandic/face-api's demo photos, a devDependency; @vladmandic/human's assets, a
// dependency). Only coordinates and labels are committed, never an image. bench/face-match.ts and the face
// tests both build their photos here, so there is one copy of the cutting code.
//
// Set A: 22 women, one photo each: a 400×500 portrait per woman, and 13 altered versions of that same photo
// (robustness, not evidence about different photos). Set B: 17 different photos of one man (real
// cross-photo genuine pairs). Set M: 15 other men (impostors against B). See eval-set.json "what".
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import sharp, { type Sharp } from "sharp";

const require = createRequire(import.meta.url);

type Box = [number, number, number, number];
type TileRef = string | { file: string; extract: Box; note?: string };

interface EvalSetFile {
  packages: Record<string, string>;
  setA: { sources: Record<string, { file: string; faces: Box[] }>; maybeSamePerson: [string, string][]; alterations: string[] };
  setB: {
    montage: { file: string; rows: [number, number][]; columnPitch: number; tileWidth: number };
    sameMan: TileRef[];
  };
  setM: { tiles: string[] };
}

export const EVAL_SET = JSON.parse(readFileSync(path.join(import.meta.dirname, "eval-set.json"), "utf8")) as EvalSetFile;

/** A package's folder (its exports need not list package.json). */
function packageDir(pkg: string): string {
  for (let dir = path.dirname(require.resolve(pkg)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === pkg) return dir;
  }
  throw new Error(`eval set: ${pkg} is not installed`);
}

/** A file named in eval-set.json: `@vladmandic/face-api/...`, or `human/...` for @vladmandic/human's. */
function packageFile(ref: string): string {
  const [pkg, rest] = ref.startsWith("@vladmandic/face-api/")
    ? ["@vladmandic/face-api", ref.slice("@vladmandic/face-api/".length)]
    : ref.startsWith("human/")
      ? ["@vladmandic/human", ref.slice("human/".length)]
      : [undefined, undefined];
  if (!pkg || !rest) throw new Error(`eval set: unknown package file ${ref}`);
  const dir = packageDir(pkg);
  const version = (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
  if (version !== EVAL_SET.packages[pkg]) throw new Error(`eval set: coordinates are for ${pkg}@${EVAL_SET.packages[pkg]}, installed ${version}`);
  return path.join(dir, rest);
}

interface Raw {
  data: Buffer;
  width: number;
  height: number;
}
const decoded = new Map<string, Promise<Raw>>();
/** A package image decoded to raw RGB (once per file). */
function decode(ref: string): Promise<Raw> {
  let p = decoded.get(ref);
  if (!p) {
    p = sharp(packageFile(ref))
      .removeAlpha()
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true })
      .then(({ data, info }) => ({ data, width: info.width, height: info.height }));
    decoded.set(ref, p);
  }
  return p;
}
const fromRaw = (r: Raw) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } });
async function toRaw(img: Sharp): Promise<Raw> {
  const { data, info } = await img.removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A region of an image, the image's edges mirror-extended where the region reaches beyond them. */
async function cutMirrored(src: Raw, region: Region): Promise<Raw> {
  const left = Math.round(region.left);
  const top = Math.round(region.top);
  const width = Math.round(region.width);
  const height = Math.round(region.height);
  const pad = {
    left: Math.max(0, -left),
    top: Math.max(0, -top),
    right: Math.max(0, left + width - src.width),
    bottom: Math.max(0, top + height - src.height),
  };
  const padded = pad.left || pad.top || pad.right || pad.bottom ? await toRaw(fromRaw(src).extend({ ...pad, extendWith: "mirror" })) : src;
  return toRaw(fromRaw(padded).extract({ left: left + pad.left, top: top + pad.top, width, height }));
}

const PORTRAIT = { width: 400, height: 500 };
const JPEG_QUALITY = 92;
const jpeg = (img: Sharp, quality = JPEG_QUALITY) => img.jpeg({ quality }).toBuffer();

/** The portrait region around a face box: centre moved down 0.1 × height, width 1.9 × box width, 4:5. */
function portraitRegion([x, y, w, h]: Box, scale = 1, shift: [number, number] = [0, 0]): Region {
  const width = 1.9 * w * scale;
  const height = (width * PORTRAIT.height) / PORTRAIT.width;
  const cx = x + w / 2 + shift[0] * w;
  const cy = y + h / 2 + 0.1 * h + shift[1] * h;
  return { left: cx - width / 2, top: cy - height / 2, width, height };
}

export interface SetAWoman {
  /** `sN_i`: face i of sources.sN */
  id: string;
  file: string;
  box: Box;
}

export const SET_A: SetAWoman[] = Object.entries(EVAL_SET.setA.sources).flatMap(([s, src]) =>
  src.faces.map((box, i) => ({ id: `${s}_${i}`, file: src.file, box })),
);

/** Pairs labelled "maybe the same person" by eye: never counted as impostors. */
export function maybeSamePerson(a: string, b: string): boolean {
  return EVAL_SET.setA.maybeSamePerson.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

function woman(id: string): SetAWoman {
  const w = SET_A.find((p) => p.id === id);
  if (!w) throw new Error(`eval set: no woman ${id}`);
  return w;
}

async function portraitRaw(w: SetAWoman): Promise<Raw> {
  const cut = await cutMirrored(await decode(w.file), portraitRegion(w.box));
  return toRaw(fromRaw(cut).resize(PORTRAIT.width, PORTRAIT.height));
}

/** The enrolled 400×500 portrait of a set-A woman. */
export async function setAPortrait(id: string): Promise<Buffer> {
  return jpeg(fromRaw(await portraitRaw(woman(id))));
}

/** The face box in the portrait's pixels. */
function boxInPortrait(w: SetAWoman): Region {
  const r = portraitRegion(w.box);
  const k = PORTRAIT.width / r.width;
  return { left: (w.box[0] - r.left) * k, top: (w.box[1] - r.top) * k, width: w.box[2] * k, height: w.box[3] * k };
}

type Point = [number, number];
const centreOf = (r: Region): Point => [r.left + r.width / 2, r.top + r.height / 2];

/** Covers a band of the face box (fractions of its height) with a solid colour. */
async function cover(p: Raw, box: Region, from: number, to: number, colour: { r: number; g: number; b: number }): Promise<Raw> {
  const left = Math.max(0, Math.round(box.left - 0.05 * box.width));
  const top = Math.max(0, Math.round(box.top + from * box.height));
  const width = Math.min(p.width - left, Math.round(box.width * 1.1));
  const height = Math.min(p.height - top, Math.round((to - from) * box.height));
  const patch = await sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
  return toRaw(fromRaw(p).composite([{ input: patch, left, top }]));
}

/** A lookup table applied to every channel. */
function mapValues(p: Raw, f: (v: number) => number): Raw {
  const lut = Uint8Array.from({ length: 256 }, (_, v) => Math.max(0, Math.min(255, Math.round(f(v)))));
  const data = Buffer.alloc(p.data.length);
  for (let i = 0; i < data.length; i++) data[i] = lut[p.data[i]!]!;
  return { ...p, data };
}

/**
 * The 13 alterations of eval-set.json, in its order, each a JPEG of the same woman's photo. Where the text
 * leaves a detail open, the choice is stated here.
 */
export const ALTERATIONS: readonly {
  name: string;
  make: (w: SetAWoman, portrait: Raw) => Promise<Buffer>;
  /** Where the labelled face's box centre lands in the altered photo (given where it is in the portrait). */
  faceCentre?: (w: SetAWoman, inPortrait: Point) => Point;
}[] = [
  { name: "flip", make: async (_w, p) => jpeg(fromRaw(p).flop()), faceCentre: (_w, [x, y]) => [PORTRAIT.width - x, y] },
  {
    name: "rotate 15 deg (re-cut from the original)",
    // a region twice the portrait's size around the same centre, rotated about its centre, then the
    // portrait's own size cut from the middle (so no canvas corner shows)
    make: async (w) => {
      const r = portraitRegion(w.box);
      const big = await cutMirrored(await decode(w.file), { left: r.left - r.width / 2, top: r.top - r.height / 2, width: 2 * r.width, height: 2 * r.height });
      const turned = await toRaw(fromRaw(big).rotate(15, { background: { r: 0, g: 0, b: 0 } }));
      const width = Math.round(r.width);
      const height = Math.round(r.height);
      const mid = { left: Math.round((turned.width - width) / 2), top: Math.round((turned.height - height) / 2), width, height };
      return jpeg(fromRaw(turned).extract(mid).resize(PORTRAIT.width, PORTRAIT.height));
    },
    // sharp turns clockwise (on screen, y down) about the middle, which is the portrait's centre
    faceCentre: (_w, [x, y]) => {
      const [cx, cy] = [PORTRAIT.width / 2, PORTRAIT.height / 2];
      const t = (15 * Math.PI) / 180;
      return [cx + Math.cos(t) * (x - cx) - Math.sin(t) * (y - cy), cy + Math.sin(t) * (x - cx) + Math.cos(t) * (y - cy)];
    },
  },
  {
    name: "off-centre larger crop (scale 1.35, shift 0.25w, 0.15h)",
    make: async (w) => jpeg(fromRaw(await cutMirrored(await decode(w.file), portraitRegion(w.box, 1.35, [0.25, 0.15]))).resize(PORTRAIT.width, PORTRAIT.height)),
    faceCentre: (w) => {
      const r = portraitRegion(w.box, 1.35, [0.25, 0.15]);
      const k = PORTRAIT.width / r.width;
      return [(w.box[0] + w.box[2] / 2 - r.left) * k, (w.box[1] + w.box[3] / 2 - r.top) * k];
    },
  },
  {
    name: "4x down then up-scale",
    make: async (_w, p) => {
      const small = await toRaw(fromRaw(p).resize(PORTRAIT.width / 4, PORTRAIT.height / 4));
      return jpeg(fromRaw(small).resize(PORTRAIT.width, PORTRAIT.height));
    },
  },
  { name: "blur sigma 3", make: async (_w, p) => jpeg(fromRaw(p).blur(3)) },
  { name: "JPEG q15", make: async (_w, p) => jpeg(fromRaw(p), 15) },
  {
    // exposure × 0.35 in linear light, the values taken as gamma-2.2 encoded: v' = 255·(0.35·(v/255)^2.2)^(1/2.2)
    name: "dark (linear 0.35, gamma 2.2)",
    make: async (_w, p) => jpeg(fromRaw(mapValues(p, (v) => 255 * Math.pow(0.35 * Math.pow(v / 255, 2.2), 1 / 2.2)))),
  },
  { name: "over-exposed (linear 1.5, +45)", make: async (_w, p) => jpeg(fromRaw(mapValues(p, (v) => 1.5 * v + 45))) },
  {
    // a warm cast (red up, blue down), then saturation × 1.5
    name: "colour cast + saturation",
    make: async (_w, p) => jpeg(fromRaw(await toRaw(fromRaw(p).linear([1.12, 1.0, 0.82], [12, 4, -10]))).modulate({ saturation: 1.5 })),
  },
  { name: "greyscale", make: async (_w, p) => jpeg(fromRaw(p).greyscale()) },
  {
    // from just under the nose (0.62 of the box height) to below the chin, a light grey block
    name: "lower face covered",
    make: async (w, p) => jpeg(fromRaw(await cover(p, boxInPortrait(w), 0.62, 1.1, { r: 205, g: 210, b: 215 }))),
  },
  {
    // a black bar across both eyes (0.25 to 0.5 of the box height)
    name: "eyes covered (black bar)",
    make: async (w, p) => jpeg(fromRaw(await cover(p, boxInPortrait(w), 0.25, 0.5, { r: 0, g: 0, b: 0 }))),
  },
  {
    // desaturated: saturation × 0.3; lower contrast: v' = 0.7·v + 38
    name: "registry-like scan: 160x200, desaturated, lower contrast, JPEG q40, up-scaled to 240x300",
    make: async (_w, p) => {
      const small = await toRaw(fromRaw(p).resize(160, 200));
      const flat = await toRaw(fromRaw(mapValues(await toRaw(fromRaw(small).modulate({ saturation: 0.3 })), (v) => 0.7 * v + 38)));
      const scanned = await toRaw(sharp(await jpeg(fromRaw(flat), 40)));
      return jpeg(fromRaw(scanned).resize(240, 300));
    },
    faceCentre: (_w, [x, y]) => [(x * 240) / PORTRAIT.width, (y * 300) / PORTRAIT.height],
  },
];

if (ALTERATIONS.map((a) => a.name).join("|") !== EVAL_SET.setA.alterations.join("|")) throw new Error("eval set: alterations out of step with eval-set.json");

/** Where the labelled woman's face box centre is in her portrait, in pixels. */
export function setAFaceCentre(id: string): Point {
  return centreOf(boxInPortrait(woman(id)));
}

export interface AlteredPhoto {
  name: string;
  photo: Buffer;
  /** Where the labelled woman's face box centre is in this photo: another face found there is someone else. */
  faceCentre: Point;
}

/** The 13 altered versions of a set-A woman's photo, in eval-set.json's order. */
export async function setAAlterations(id: string): Promise<AlteredPhoto[]> {
  const w = woman(id);
  const p = await portraitRaw(w);
  const centre = setAFaceCentre(id);
  return Promise.all(ALTERATIONS.map(async (a) => ({ name: a.name, photo: await a.make(w, p), faceCentre: a.faceCentre?.(w, centre) ?? centre })));
}

const CANVAS = 256;
const DARK = { r: 16, g: 16, b: 16 };

/** A small face crop padded (not scaled) onto the middle of a 256×256 dark canvas. */
async function onCanvas(tile: Raw): Promise<Buffer> {
  const left = Math.floor((CANVAS - tile.width) / 2);
  const top = Math.floor((CANVAS - tile.height) / 2);
  return jpeg(fromRaw(tile).extend({ left, top, right: CANVAS - tile.width - left, bottom: CANVAS - tile.height - top, background: DARK }));
}

/** A montage tile `rRcCC`: row R (1-6), column CC (01-18). */
async function montageTile(id: string): Promise<Buffer> {
  const m = /^r([1-6])c(\d\d)$/.exec(id);
  if (!m) throw new Error(`eval set: bad tile ${id}`);
  const { montage } = EVAL_SET.setB;
  const [top, bottom] = montage.rows[Number(m[1]) - 1]!;
  const left = Math.round((Number(m[2]) - 1) * montage.columnPitch);
  const src = await decode(montage.file);
  return onCanvas(await toRaw(fromRaw(src).extract({ left, top, width: Math.min(montage.tileWidth, src.width - left), height: bottom - top })));
}

export interface EvalPhoto {
  id: string;
  photo: Buffer;
}

const tileId = (t: TileRef) => (typeof t === "string" ? t : `${path.basename(t.file, path.extname(t.file))}@${t.extract.join(",")}`);

/** Ids of set B's photos of the one man (montage tiles, and the crop of the face-detection screenshot). */
export const SET_B_IDS: string[] = EVAL_SET.setB.sameMan.map(tileId);
export const SET_M_IDS: string[] = EVAL_SET.setM.tiles;

/** One of set B's photos of the same man, by id (see SET_B_IDS). */
export async function setBPhoto(id: string): Promise<Buffer> {
  const ref = EVAL_SET.setB.sameMan.find((t) => tileId(t) === id);
  if (!ref) throw new Error(`eval set: no set-B photo ${id}`);
  if (typeof ref === "string") return montageTile(ref);
  const [left, top, width, height] = ref.extract;
  return onCanvas(await toRaw(fromRaw(await decode(ref.file)).extract({ left, top, width, height })));
}

/** One of set M's other men, by tile id. */
export async function setMPhoto(id: string): Promise<Buffer> {
  if (!SET_M_IDS.includes(id)) throw new Error(`eval set: no set-M tile ${id}`);
  return montageTile(id);
}

export interface EvalSet {
  setA: { id: string; portrait: Buffer; faceCentre: Point; altered: AlteredPhoto[] }[];
  setB: EvalPhoto[];
  setM: EvalPhoto[];
}

/** The whole evaluation set, as JPEGs. */
export async function buildEvalSet(): Promise<EvalSet> {
  const setA = [];
  for (const w of SET_A) setA.push({ id: w.id, portrait: await setAPortrait(w.id), faceCentre: setAFaceCentre(w.id), altered: await setAAlterations(w.id) });
  const setB = await Promise.all(SET_B_IDS.map(async (id) => ({ id, photo: await setBPhoto(id) })));
  const setM = await Promise.all(SET_M_IDS.map(async (id) => ({ id, photo: await setMPhoto(id) })));
  return { setA, setB, setM };
}
