// Every rule a photo must pass before it is sealed and enrolled. The only module that calls sharp.
import sharp, { type Metadata } from "sharp";
import { PayloadTooLargeError, ValidationError } from "../errors.js";
import { isMalformed, walkJpeg, walkPng } from "./structure.js";

sharp.cache(false); // never keep decoded biometric pixels around between requests

export const PHOTO_LIMITS = {
  /** Decoded (binary) size cap of a photo: 5 MiB. Official KTP photos are a few hundred KB at most. */
  maxBytes: 5 * 1024 * 1024,
  minSide: 64,
  maxSide: 4096,
  /** sharp's pixel limit: a decompression bomb is refused from its header, before any pixel is decoded. */
  maxPixels: 4096 * 4096,
} as const;

export type PhotoMediaType = "image/jpeg" | "image/png";

export interface InspectedPhoto {
  bytes: Buffer;
  mediaType: PhotoMediaType;
  width: number;
  height: number;
}

/** A character outside the standard alphabet (padding aside, checked on its own). */
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const reject = (message: string) => new ValidationError("photo rejected", { photo: [message] });

/** Strict base64 (RFC 4648 standard alphabet, padded, no whitespace, canonical) → bytes. */
export function decodePhotoBase64(b64: string): Buffer {
  if (b64.startsWith("data:")) throw reject("must be bare base64, without a data: URL prefix");
  if (b64.length > Math.ceil(PHOTO_LIMITS.maxBytes / 3) * 4) {
    throw new PayloadTooLargeError(`photo exceeds ${PHOTO_LIMITS.maxBytes} bytes`);
  }
  // Padding only at the very end, at most two characters of it. (One pass of a negated class and a search for
  // "=": a verdict's photo is ~130 000 characters, and an anchored pattern over all of them cost 0.8 ms a request.)
  const padding = b64.indexOf("=");
  const padded = padding === -1 ? 0 : b64.length - padding;
  if (b64.length === 0 || b64.length % 4 !== 0 || padded > 2 || NOT_BASE64.test(b64) || (padded === 2 && b64.at(-1) !== "=")) {
    throw reject("must be standard, padded base64 with no whitespace");
  }
  const bytes = Buffer.from(b64, "base64");
  if (bytes.length > PHOTO_LIMITS.maxBytes) throw new PayloadTooLargeError(`photo exceeds ${PHOTO_LIMITS.maxBytes} bytes`);
  // Non-canonical encodings (stray bits in the last character before the padding) decode to the same bytes;
  // refuse them so one photo has exactly one accepted encoding. Only the last quantum can hold such bits.
  const last = bytes.length - (3 - padded);
  if (last < 0 || bytes.subarray(last).toString("base64") !== b64.slice(-4)) throw reject("is not canonical base64");
  return bytes;
}

function signatureOf(bytes: Buffer): PhotoMediaType | undefined {
  if (bytes.subarray(0, 3).equals(JPEG_MAGIC)) return "image/jpeg";
  if (bytes.subarray(0, 8).equals(PNG_MAGIC)) return "image/png";
  return undefined;
}

/**
 * The file is exactly one well-formed image: walked to where a decoder stops (the first JPEG EOI, the first
 * PNG IEND) with nothing after it, not even NUL padding, and holding one frame. Decoders ignore what follows
 * their end and what they do not understand, which is how a polyglot (JPEG+ZIP, PNG+HTML) or a hidden second
 * frame (APNG, MPO) travels inside a photo that decodes fine; we store the bytes as evidence of what was
 * checked, so they must be only the image that was checked.
 */
function checkStructure(bytes: Buffer, mediaType: PhotoMediaType): void {
  if (mediaType === "image/jpeg") {
    const jpeg = walkJpeg(bytes);
    if (isMalformed(jpeg)) throw reject(jpeg.problem);
    checkEnd(bytes, jpeg.end, "JPEG end-of-image marker");
    if (jpeg.frames > 1) throw reject(`holds ${jpeg.frames} JPEG frames; a photo must be a single image`);
    if (jpeg.multiPicture) throw reject("carries further images (an MPF multi-picture JPEG); a photo must be a single image");
  } else {
    const png = walkPng(bytes);
    if (isMalformed(png)) throw reject(png.problem);
    checkEnd(bytes, png.end, "PNG IEND chunk");
    if (png.animationChunks.length > 0) {
      throw reject(`is an animated PNG (${png.animationChunks.join(", ")} chunks); a photo must be a single image`);
    }
  }
}

function checkEnd(bytes: Buffer, end: number, what: string): void {
  if (end < bytes.length) throw reject(`has ${bytes.length - end} bytes after the image's end (its first ${what}); send the image alone`);
}

/**
 * How a photo is decoded wherever its pixels are read under the photo rules: a decompression bomb refused
 * from its header, and any decoder warning (truncated or corrupt data) an error. The face engine's workers
 * decode with these too when they check a photo for the caller (face/prepare.ts).
 */
export const STRICT_DECODE = { limitInputPixels: PHOTO_LIMITS.maxPixels, failOn: "warning" } as const;

/** The refusal of a photo whose image data does not decode whole and clean. */
const photoIsCorrupt = () => reject("is truncated or corrupt");

/**
 * Every rule but the decode of the pixels: signature is JPEG or PNG; the structure is one well-formed image
 * with nothing after its end; the decoder agrees on the format and sees one page; dimensions within bounds
 * (from the header, so a bomb costs nothing). A photo that passes is accepted once its pixels decode too
 * (checkPhotoDecodes, or the face engine's strict decode).
 */
export async function inspectPhotoHeader(bytes: Buffer): Promise<InspectedPhoto> {
  const mediaType = signatureOf(bytes);
  if (!mediaType) throw reject("must be a JPEG or PNG image");
  checkStructure(bytes, mediaType);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, STRICT_DECODE).metadata();
  } catch {
    throw reject("could not be read as an image");
  }
  const decodedAs = meta.format === "jpeg" ? "image/jpeg" : meta.format === "png" ? "image/png" : undefined;
  if (decodedAs !== mediaType) throw reject("content does not match its JPEG/PNG signature");
  if ((meta.pages ?? 1) > 1) throw reject(`has ${meta.pages} pages; a photo must be a single image`);
  const { width, height } = meta;
  if (!width || !height) throw reject("has no dimensions");
  const { minSide, maxSide } = PHOTO_LIMITS;
  if (width < minSide || height < minSide || width > maxSide || height > maxSide) {
    throw reject(`each side must be between ${minSide} and ${maxSide} pixels (got ${width}x${height})`);
  }
  return { bytes, mediaType, width, height };
}

/** The last photo rule: the whole image decodes, so truncated or corrupt data is refused. */
export async function checkPhotoDecodes(bytes: Buffer): Promise<void> {
  try {
    await sharp(bytes, STRICT_DECODE).raw().toBuffer();
  } catch {
    throw photoIsCorrupt();
  }
}

/** Every photo rule, the full decode included. */
export async function inspectPhoto(bytes: Buffer): Promise<InspectedPhoto> {
  const photo = await inspectPhotoHeader(bytes);
  await checkPhotoDecodes(bytes);
  return photo;
}
