// Test photos are generated with sharp at test time; none are committed.
import sharp from "sharp";

export async function jpeg(width = 400, height = 500, opts: { quality?: number; noise?: boolean } = {}): Promise<Buffer> {
  const img = opts.noise
    ? sharp(Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width, height, channels: 3 } })
    : sharp({ create: { width, height, channels: 3, background: { r: 180, g: 140, b: 110 } } });
  return img.jpeg({ quality: opts.quality ?? 85 }).toBuffer();
}

export async function png(width = 400, height = 500): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 90, g: 120, b: 200 } } }).png().toBuffer();
}

export const b64 = (buf: Buffer) => buf.toString("base64");
