// Face photos for the face-engine tests, made at test time from the demo images that the devDependency
// @vladmandic/face-api ships in its tarball (group photos): portraits are cropped around one person with
// sharp. No photo is committed.
import { createRequire } from "node:module";
import path from "node:path";
import sharp from "sharp";

const require = createRequire(import.meta.url);
const demoDir = path.join(path.dirname(require.resolve("@vladmandic/face-api/package.json")), "demo");
const sample = (n: number) => path.join(demoDir, `sample${n}.jpg`);

/** Crops (in the 1920-px-wide originals) around one person, well clear of the others in the picture. */
const PEOPLE = {
  alice: { sample: 1, left: 1333, top: 30, width: 475, height: 594 },
  bea: { sample: 5, left: 187, top: 720, width: 542, height: 678 },
  cara: { sample: 6, left: 1300, top: 150, width: 520, height: 650 },
} as const;

export const PORTRAIT_PEOPLE = Object.keys(PEOPLE) as (keyof typeof PEOPLE)[];

/** A passport-style JPEG of one person (400×500 unless told). */
export async function portrait(who: keyof typeof PEOPLE, size: { width: number; height: number; quality?: number } = { width: 400, height: 500 }): Promise<Buffer> {
  const { sample: n, ...region } = PEOPLE[who];
  return sharp(sample(n)).extract(region).resize(size.width, size.height).jpeg({ quality: size.quality ?? 90 }).toBuffer();
}

/** The same photo slightly altered, as a re-scan would: smaller, re-encoded at a lower JPEG quality. */
export async function altered(photo: Buffer): Promise<Buffer> {
  return sharp(photo).resize(360, 450).jpeg({ quality: 70 }).toBuffer();
}

/** A group photo: several faces of comparable size. */
export async function group(): Promise<Buffer> {
  return sharp(sample(3)).resize(1024).jpeg({ quality: 85 }).toBuffer();
}

/** A smooth colour gradient: a valid photo with no face in it. */
export async function gradient(width = 400, height = 500): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = Math.round((x / width) * 255);
      raw[i + 1] = Math.round((y / height) * 255);
      raw[i + 2] = 128;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** A valid JPEG portrait whose EXIF carries `marker` (what a fault-injection engine reacts to). */
export async function withMarker(photo: Buffer, marker: string): Promise<Buffer> {
  return sharp(photo).withExif({ IFD0: { ImageDescription: marker } }).jpeg({ quality: 90 }).toBuffer();
}
