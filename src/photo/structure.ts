// Structural walkers for the two photo formats: they find where the image really ends (the first JPEG EOI
// reached through the segments and the entropy-coded data, the first PNG IEND reached through the chunks) and
// what else the file carries (frames, further images), without decoding a pixel. They describe the file;
// photo/inspect.ts holds the rules that decide what is refused. Pure byte parsing, bounds-checked throughout.
import { crc32 } from "node:zlib";

/** A file that is not one well-formed image of its format; `problem` completes "photo …". */
export interface Malformed {
  problem: string;
}

export interface JpegStructure {
  /** Offset just past the first EOI marker: where a decoder stops. */
  end: number;
  /** Frame headers (SOFn) before that EOI: one per frame. */
  frames: number;
  /** Start-of-scan segments (a progressive JPEG has several). */
  scans: number;
  /** An APP2 "MPF" segment: the file announces further images (MPO, CIPA DC-007). */
  multiPicture: boolean;
}

export interface PngStructure {
  /** Offset just past the first IEND chunk. */
  end: number;
  /** APNG chunk types seen (acTL, fcTL, fdAT): the file is, or pretends to be, animated. */
  animationChunks: string[];
}

const bad = (problem: string): Malformed => ({ problem });
export const isMalformed = (s: object): s is Malformed => "problem" in s;

// --------------------------------------------------------------------------------------------- JPEG

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const isRst = (code: number) => code >= 0xd0 && code <= 0xd7;
/** SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range. */
const isSof = (code: number) => code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc;
const MPF_ID = Buffer.from("MPF\0", "latin1");

/**
 * Walks a JPEG (ITU-T T.81 Annex B) from SOI to the first EOI: marker segments by their lengths, and after
 * each SOS the entropy-coded data, in which 0xFF is followed by 0x00 (a stuffed byte), RST0–7 (restart
 * markers, still inside the scan) or 0xFF (fill) — any other marker ends the scan. Progressive and
 * multi-scan files simply have several SOS.
 */
export function walkJpeg(b: Buffer): JpegStructure | Malformed {
  if (b.length < 2 || b[0] !== 0xff || b[1] !== SOI) return bad("does not start with a JPEG start-of-image marker");
  let i = 2;
  let frames = 0;
  let scans = 0;
  let multiPicture = false;
  for (;;) {
    if (i >= b.length) return bad("is truncated: the JPEG has no end-of-image marker");
    if (b[i] !== 0xff) return bad(`has bytes that are not a JPEG marker at offset ${i}`);
    while (i < b.length && b[i] === 0xff) i++; // a marker may be preceded by fill bytes (T.81 B.1.1.2)
    if (i >= b.length) return bad("is truncated: the JPEG has no end-of-image marker");
    const code = b[i++]!;
    const at = i - 2;
    if (code === EOI) {
      if (frames === 0 || scans === 0) return bad("has no image data (no JPEG frame header or scan before the end-of-image marker)");
      return { end: i, frames, scans, multiPicture };
    }
    if (code === SOI) return bad(`has a second JPEG start-of-image marker at offset ${at}, inside the image`);
    if (code === 0x00 || isRst(code)) return bad(`has a JPEG marker out of place at offset ${at} (0xFF${hex(code)} outside the image data)`);
    if (code === TEM) continue; // standalone, no length
    if (i + 2 > b.length) return bad("is truncated inside a JPEG segment header");
    const length = b.readUInt16BE(i);
    if (length < 2) return bad(`has a JPEG segment with an impossible length at offset ${at}`);
    const segmentEnd = i + length;
    if (segmentEnd > b.length) return bad(`has a JPEG segment (0xFF${hex(code)} at offset ${at}) that runs past the end of the file`);
    const payload = b.subarray(i + 2, segmentEnd);
    i = segmentEnd;
    if (isSof(code)) frames++;
    else if (code === 0xe2 && payload.subarray(0, MPF_ID.length).equals(MPF_ID)) multiPicture = true;
    else if (code === SOS) {
      if (frames === 0) return bad(`has a JPEG scan before any frame header (SOS at offset ${at})`);
      scans++;
      const next = skipEntropyCodedData(b, i);
      if (next === undefined) return bad("is truncated: the JPEG ends inside its image data");
      i = next;
    }
  }
}

/** Offset of the marker that ends the entropy-coded data starting at i, or undefined if the file ends first. */
function skipEntropyCodedData(b: Buffer, i: number): number | undefined {
  for (;;) {
    const ff = b.indexOf(0xff, i);
    if (ff < 0 || ff + 1 >= b.length) return undefined;
    const next = b[ff + 1]!;
    if (next === 0x00 || isRst(next)) i = ff + 2;
    else if (next === 0xff) i = ff + 1; // fill bytes before the marker that ends the scan
    else return ff;
  }
}

const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, "0");

// ---------------------------------------------------------------------------------------------- PNG

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const ANIMATION_CHUNKS = new Set(["acTL", "fcTL", "fdAT"]);
const CHUNK_TYPE = /^[A-Za-z]{4}$/;

/**
 * Walks a PNG (ISO/IEC 15948, W3C PNG 3rd ed.) from the signature to the first IEND: every chunk's length,
 * type and CRC-32 (over type and data) are checked; IHDR comes first and once, the IDAT chunks are
 * consecutive, IEND is empty.
 */
export function walkPng(b: Buffer): PngStructure | Malformed {
  if (!b.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) return bad("does not start with the PNG signature");
  let i = PNG_SIGNATURE.length;
  let chunks = 0;
  let idat: "none" | "in" | "after" = "none";
  const animation = new Set<string>();
  for (;;) {
    if (i + 12 > b.length) return bad("is truncated: the PNG has no IEND chunk");
    const length = b.readUInt32BE(i);
    const type = b.toString("latin1", i + 4, i + 8);
    if (!CHUNK_TYPE.test(type)) return bad(`has an invalid PNG chunk type at offset ${i}`);
    if (length > 0x7fffffff) return bad(`has a PNG chunk (${type} at offset ${i}) longer than PNG allows`);
    const dataEnd = i + 8 + length;
    if (dataEnd + 4 > b.length) return bad(`has a PNG chunk (${type} at offset ${i}) that runs past the end of the file`);
    if (crc32(b.subarray(i + 4, dataEnd)) !== b.readUInt32BE(dataEnd)) return bad(`has a PNG chunk (${type} at offset ${i}) with a wrong CRC`);
    if (chunks === 0 && type !== "IHDR") return bad("does not start with an IHDR chunk");
    if (chunks > 0 && type === "IHDR") return bad(`has a second IHDR chunk at offset ${i}`);
    if (type === "IHDR" && length !== 13) return bad("has an IHDR chunk of the wrong size");
    if (type === "IDAT") {
      if (idat === "after") return bad(`has IDAT chunks that are not consecutive (offset ${i})`);
      idat = "in";
    } else if (idat === "in") idat = "after";
    if (ANIMATION_CHUNKS.has(type)) animation.add(type);
    chunks++;
    i = dataEnd + 4;
    if (type === "IEND") {
      if (length !== 0) return bad("has an IEND chunk that is not empty");
      if (idat === "none") return bad("has no image data (no IDAT chunk before IEND)");
      return { end: i, animationChunks: [...animation] };
    }
  }
}
