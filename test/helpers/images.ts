// Test photos are generated with sharp at test time; none are committed. Below them, byte surgery on JPEG
// segments and PNG chunks for the tests of what the photo rules refuse.
import { crc32 } from "node:zlib";
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

/**
 * A flat grey baseline JPEG written byte by byte (no encoder can be told to emit restart markers from here):
 * one component, 8x8 blocks whose only non-zero coefficient is DC, two tiny Huffman tables, and with
 * `restartInterval` a DRI segment and RST0–7 markers between intervals. Byte stuffing (0xFF → FF 00) is
 * applied to the entropy-coded data as T.81 requires. `grey` is the sample value, 129–255.
 */
export function greyJpeg(width: number, height: number, { grey = 200, restartInterval = 0 } = {}): Buffer {
  const k = grey - 128; // the quantised DC value with a quantiser of 8 (DC of a flat block is 8 × (v − 128))
  if (k < 1 || k > 127) throw new Error("grey must be 129–255");
  const category = 32 - Math.clz32(k);
  const segment = (marker: number, payload: number[]) => [0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload];
  const out: number[] = [0xff, 0xd8];
  out.push(...segment(0xdb, [0x00, ...Array<number>(64).fill(8)]));
  out.push(...segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]));
  // DC table: "0" → category 0 (no change), "10" → `category`. AC table: "0" → EOB.
  out.push(...segment(0xc4, [0x00, 1, 1, ...Array<number>(14).fill(0), 0, category]));
  out.push(...segment(0xc4, [0x10, 1, ...Array<number>(15).fill(0), 0x00]));
  if (restartInterval) out.push(...segment(0xdd, [restartInterval >> 8, restartInterval & 0xff]));
  out.push(...segment(0xda, [1, 1, 0x00, 0, 63, 0]));
  let acc = 0;
  let nbits = 0;
  const put = (value: number, bits: number) => {
    for (let b = bits - 1; b >= 0; b--) {
      acc = (acc << 1) | ((value >> b) & 1);
      if (++nbits === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0x00);
        acc = 0;
        nbits = 0;
      }
    }
  };
  const flush = () => {
    while (nbits !== 0) put(1, 1); // pad with 1-bits to the byte boundary
  };
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  let rst = 0;
  for (let n = 0; n < blocks; n++) {
    if (restartInterval && n > 0 && n % restartInterval === 0) {
      flush();
      out.push(0xff, 0xd0 + rst);
      rst = (rst + 1) % 8;
    }
    const first = n === 0 || (restartInterval > 0 && n % restartInterval === 0); // the DC predictor restarts at 0
    if (first) {
      put(0b10, 2);
      put(k, category);
    } else put(0, 1);
    put(0, 1); // EOB
  }
  flush();
  out.push(0xff, 0xd9);
  return Buffer.from(out);
}

// ------------------------------------------------------------------------------------------ surgery

/** A PNG chunk with its length and a correct CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Inserts chunks right after IHDR (8-byte signature + 25-byte IHDR chunk). */
export function pngInsert(base: Buffer, ...chunks: Buffer[]): Buffer {
  return Buffer.concat([base.subarray(0, 33), ...chunks, base.subarray(33)]);
}

/** Inserts chunks just before the final IEND chunk (12 bytes). */
export function pngInsertBeforeEnd(base: Buffer, ...chunks: Buffer[]): Buffer {
  return Buffer.concat([base.subarray(0, base.length - 12), ...chunks, base.subarray(base.length - 12)]);
}

/** The chunks of a PNG in order: type, offset and data (no checks; the images are the tests' own). */
export function pngChunks(png: Buffer): { type: string; offset: number; data: Buffer }[] {
  const out = [];
  for (let i = 8; i + 12 <= png.length; ) {
    const length = png.readUInt32BE(i);
    out.push({ type: png.toString("latin1", i + 4, i + 8), offset: i, data: png.subarray(i + 8, i + 8 + length) });
    i += 12 + length;
  }
  return out;
}

/**
 * An animated PNG (APNG) of two frames: `first` as the default image and `second` (same size) as a hidden
 * second frame, which decoders without APNG support (libvips among them) never show.
 */
export function apng(first: Buffer, second: Buffer): Buffer {
  const ihdr = pngChunks(first)[0]!.data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const fctl = (seq: number) => Buffer.concat([u32(seq), u32(width), u32(height), u32(0), u32(0), Buffer.from([0, 1, 0, 10, 0, 0])]);
  const idat = pngChunks(first).filter((c) => c.type === "IDAT");
  const secondData = Buffer.concat(pngChunks(second).filter((c) => c.type === "IDAT").map((c) => c.data));
  return Buffer.concat([
    first.subarray(0, 33),
    pngChunk("acTL", Buffer.concat([u32(2), u32(0)])),
    pngChunk("fcTL", fctl(0)),
    ...idat.map((c) => pngChunk("IDAT", c.data)),
    pngChunk("fcTL", fctl(1)),
    pngChunk("fdAT", Buffer.concat([u32(2), secondData])),
    first.subarray(first.length - 12),
  ]);
}

/** A JPEG marker segment: FF, the marker, the length (payload + 2), the payload. */
export function jpegSegment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xff00 | marker, 0);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/** Inserts segments right after SOI. */
export function jpegInsert(base: Buffer, ...segments: Buffer[]): Buffer {
  return Buffer.concat([base.subarray(0, 2), ...segments, base.subarray(2)]);
}

/** Offset of the first marker `ff xx` at or after `from`. */
export function markerAt(buf: Buffer, marker: number, from = 2): number {
  for (let i = from; i < buf.length - 1; i++) if (buf[i] === 0xff && buf[i + 1] === marker) return i;
  return -1;
}

/** A minimal (stored, empty-file) ZIP archive; its end-of-central-directory comment is `comment`. */
export function tinyZip(comment: Buffer = Buffer.alloc(0)): Buffer {
  const name = Buffer.from("evil.html");
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(name.length, 28);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(46 + name.length, 12);
  eocd.writeUInt32LE(30 + name.length, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([local, name, central, name, eocd, comment]);
}

/** An APP2 MPF segment (CIPA DC-007 multi-picture format) announcing `images` images, the first being this one. */
export function mpfSegment(images = 2): Buffer {
  // "MPF\0", then a big-endian TIFF header and an IFD with MPFVersion, NumberOfImages and an MP entry list.
  const entries = 3;
  const ifd = Buffer.alloc(2 + entries * 12 + 4);
  ifd.writeUInt16BE(entries, 0);
  const entry = (n: number, tag: number, type: number, count: number, value: Buffer) => {
    const at = 2 + n * 12;
    ifd.writeUInt16BE(tag, at);
    ifd.writeUInt16BE(type, at + 2);
    ifd.writeUInt32BE(count, at + 4);
    value.copy(ifd, at + 8);
  };
  const listOffset = 8 + ifd.length;
  entry(0, 0xb000, 7, 4, Buffer.from("0100"));
  entry(1, 0xb001, 4, 1, Buffer.from([0, 0, 0, images]));
  entry(2, 0xb002, 7, 16 * images, Buffer.from([0, 0, listOffset >> 8, listOffset & 0xff]));
  const list = Buffer.alloc(16 * images);
  list.writeUInt32BE(0x20030000, 0); // the first image: baseline primary
  for (let n = 1; n < images; n++) list.writeUInt32BE(0x00020000, n * 16); // then large thumbnails
  return jpegSegment(0xe2, Buffer.concat([Buffer.from("MPF\0", "latin1"), Buffer.from("MM\0*\0\0\0\x08", "latin1"), ifd, list]));
}
