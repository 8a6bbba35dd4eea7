// The photo walkers (src/photo/structure.ts) and the rules inspectPhoto builds on them: where a JPEG or PNG
// really ends, what a file carries besides its one image, and which structures are malformed. Images are
// made with sharp at test time or written byte by byte (greyJpeg); crafted ones come from test/helpers.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { inspectPhoto } from "../../src/photo/inspect.js";
import { isMalformed, walkJpeg, walkPng, type JpegStructure, type Malformed, type PngStructure } from "../../src/photo/structure.js";
import {
  apng,
  greyJpeg,
  jpeg,
  jpegInsert,
  jpegSegment,
  markerAt,
  mpfSegment,
  png,
  pngChunk,
  pngChunks,
  pngInsert,
  pngInsertBeforeEnd,
  tinyZip,
} from "../helpers/images.js";

const base = () => sharp({ create: { width: 100, height: 120, channels: 3, background: { r: 200, g: 120, b: 80 } } });
const html = Buffer.from("<html><body><script>alert(document.cookie)</script></body></html>");
const EOI = Buffer.from([0xff, 0xd9]);
let noisy: Buffer;
let flatPng: Buffer;

/** Every JPEG and PNG flavour the service accepts today (the same list the hostile corpus posts). */
let legitimateJpegs: [string, Buffer][];
let legitimatePngs: [string, Buffer][];

beforeAll(async () => {
  noisy = await jpeg(96, 120, { noise: true });
  flatPng = await png(96, 120);
  legitimateJpegs = [
    ["baseline, noisy (byte stuffing in its scan)", noisy],
    ["flat colour", await jpeg(64, 64)],
    ["progressive", await base().jpeg({ progressive: true }).toBuffer()],
    ["CMYK (Adobe APP14)", await base().toColourspace("cmyk").jpeg().toBuffer()],
    ["grayscale", await base().grayscale().jpeg().toBuffer()],
    ["4:4:4 at quality 100", await base().jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).toBuffer()],
    ["with EXIF (APP1)", await base().withExif({ IFD0: { ImageDescription: "evidence" } }).jpeg().toBuffer()],
    ["with an ICC profile (APP2)", await base().withIccProfile("p3").jpeg().toBuffer()],
    ["with a comment holding HTML and an EOI", jpegInsert(noisy, jpegSegment(0xfe, Buffer.concat([html, EOI])))],
    ["restart markers every block", greyJpeg(64, 64, { restartInterval: 1 })],
    ["restart markers every 3 blocks (RST0-7 wrap)", greyJpeg(96, 96, { restartInterval: 3 })],
    ["without restart markers, written by hand", greyJpeg(64, 72)],
    ["fill bytes before a marker", Buffer.concat([noisy.subarray(0, 2), Buffer.from([0xff, 0xff]), noisy.subarray(2)])],
  ];
  legitimatePngs = [
    ["RGB", flatPng],
    ["RGBA", await base().ensureAlpha(0.5).png().toBuffer()],
    ["palette", await base().png({ palette: true, colours: 4 }).toBuffer()],
    ["16-bit RGB", await base().toColourspace("rgb16").png().toBuffer()],
    ["16-bit grayscale", await base().toColourspace("grey16").png().toBuffer()],
    ["interlaced", await base().png({ progressive: true }).toBuffer()],
    ["1-bit", await base().grayscale().png({ palette: true, colours: 2 }).toBuffer()],
    ["with a tEXt chunk holding HTML and an IEND", pngInsert(flatPng, pngChunk("tEXt", Buffer.concat([Buffer.from("Comment\0"), html, Buffer.from("IEND")])))],
    ["with its data in many small IDAT chunks", await base().png({ compressionLevel: 0 }).toBuffer()],
  ];
});

function jpegOk(b: Buffer): JpegStructure {
  const s = walkJpeg(b);
  if (isMalformed(s)) throw new Error(`unexpectedly malformed: ${s.problem}`);
  return s;
}
function pngOk(b: Buffer): PngStructure {
  const s = walkPng(b);
  if (isMalformed(s)) throw new Error(`unexpectedly malformed: ${s.problem}`);
  return s;
}
function problem(s: object): string {
  expect(isMalformed(s), JSON.stringify(s)).toBe(true);
  return (s as Malformed).problem;
}

async function refusal(bytes: Buffer): Promise<string> {
  try {
    await inspectPhoto(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    const fieldErrors = (e as ValidationError).fieldErrors;
    expect(Object.keys(fieldErrors)).toEqual(["photo"]);
    expect(fieldErrors.photo).toHaveLength(1);
    return fieldErrors.photo![0]!;
  }
  throw new Error("accepted");
}

describe("walkJpeg", () => {
  it("walks every legitimate flavour to its one EOI, the file's last byte", () => {
    for (const [name, b] of legitimateJpegs) {
      const s = jpegOk(b);
      expect(s.end, name).toBe(b.length);
      expect(s.frames, name).toBe(1);
      expect(s.multiPicture, name).toBe(false);
    }
    // what the flavours are meant to exercise really is in them
    expect(noisy.includes(Buffer.from([0xff, 0x00]))).toBe(true);
    const restarts = greyJpeg(96, 96, { restartInterval: 3 });
    for (let n = 0; n < 8; n++) expect(restarts.includes(Buffer.from([0xff, 0xd0 + n])), `RST${n}`).toBe(true);
    expect(jpegOk(legitimateJpegs[2]![1]).scans).toBeGreaterThan(1); // progressive: several scans
  });

  it("the end is the FIRST EOI reached through the structure, whatever follows and however the file ends", () => {
    const zipEndingInEoi = tinyZip(Buffer.concat([Buffer.from("comment "), EOI]));
    expect(zipEndingInEoi.subarray(-2).equals(EOI)).toBe(true);
    const followers: [string, Buffer][] = [
      ["HTML, then FF D9", Buffer.concat([html, EOI])],
      ["a second JPEG", noisy],
      ["a ZIP whose comment ends in FF D9", zipEndingInEoi],
      ["NUL padding", Buffer.alloc(16)],
      ["one byte", Buffer.from([0x0a])],
      ["a lone EOI", EOI],
    ];
    for (const [name, tail] of followers) {
      expect(jpegOk(Buffer.concat([noisy, tail])).end, name).toBe(noisy.length);
    }
    // An EOI inside a segment's payload (a comment, EXIF) is data, not the end.
    const commented = jpegInsert(noisy, jpegSegment(0xfe, Buffer.concat([EOI, EOI])));
    expect(jpegOk(commented).end).toBe(commented.length);
  });

  it("counts frames and notices an MPF (multi-picture) segment", () => {
    const sof = markerAt(noisy, 0xc0);
    const sofSegment = noisy.subarray(sof, sof + 2 + noisy.readUInt16BE(sof + 2));
    expect(jpegOk(jpegInsert(noisy, sofSegment)).frames).toBe(2);
    expect(jpegOk(jpegInsert(noisy, mpfSegment())).multiPicture).toBe(true);
    // an APP2 that is an ICC profile is not MPF
    expect(jpegOk(legitimateJpegs[7]![1]).multiPicture).toBe(false);
  });

  it("malformed structure: a problem named, never an exception", () => {
    const sos = markerAt(noisy, 0xda);
    const sof = markerAt(noisy, 0xc0);
    const longSof = Buffer.from(noisy);
    longSof.writeUInt16BE(0xffff, sof + 2);
    const zeroLength = Buffer.from(noisy);
    zeroLength.writeUInt16BE(0, sof + 2);
    const cases: [string, Buffer, RegExp][] = [
      ["not a JPEG", Buffer.from("GIF89a"), /start-of-image/],
      ["SOI only", Buffer.from([0xff, 0xd8]), /no end-of-image/],
      ["SOI + FF", Buffer.from([0xff, 0xd8, 0xff]), /no end-of-image/],
      ["SOI + EOI", Buffer.from([0xff, 0xd8, 0xff, 0xd9]), /no image data/],
      ["headers but no scan", Buffer.concat([noisy.subarray(0, sos), EOI]), /no image data/],
      ["a segment running past the end", longSof, new RegExp(`has a JPEG segment \\(0xFFC0 at offset ${sof}\\) that runs past the end of the file`)],
      ["a segment length below 2", zeroLength, /impossible length/],
      ["a segment header cut short", noisy.subarray(0, sof + 3), /truncated/],
      ["the scan cut off (no EOI)", noisy.subarray(0, sos + 200), /ends inside its image data/],
      ["the scan cut off on an FF", Buffer.concat([noisy.subarray(0, sos + 200), Buffer.from([0xff])]), /ends inside its image data/],
      ["a scan before the frame header", Buffer.concat([noisy.subarray(0, 2), noisy.subarray(sos)]), /scan before any frame header/],
      ["stray bytes between segments", Buffer.concat([noisy.subarray(0, sof), Buffer.from("xx"), noisy.subarray(sof)]), /not a JPEG marker/],
      ["a second SOI before the EOI", Buffer.concat([noisy.subarray(0, sof), Buffer.from([0xff, 0xd8]), noisy.subarray(sof)]), /second JPEG start-of-image/],
      ["a restart marker outside a scan", Buffer.concat([noisy.subarray(0, sof), Buffer.from([0xff, 0xd0]), noisy.subarray(sof)]), /out of place/],
      ["a stuffed zero outside a scan", Buffer.concat([noisy.subarray(0, sof), Buffer.from([0xff, 0x00]), noisy.subarray(sof)]), new RegExp(`marker out of place at offset ${sof} \\(0xFF00 outside the image data\\)`)],
    ];
    for (const [name, b, message] of cases) expect(problem(walkJpeg(b)), name).toMatch(message);
  });

  it("property: any cut, splice or byte flip gives a structure within the file or a problem, never a throw", () => {
    fc.assert(
      fc.property(fc.nat(noisy.length), fc.nat(noisy.length - 1), fc.nat(255), fc.uint8Array({ maxLength: 64 }), (cut, at, value, tail) => {
        const mutated = Buffer.concat([noisy.subarray(0, cut), Buffer.from(tail)]);
        if (at < mutated.length) mutated[at] = value;
        const s = walkJpeg(mutated);
        if (!isMalformed(s)) expect(s.end).toBeLessThanOrEqual(mutated.length);
      }),
      { numRuns: 500 },
    );
  });

  it("property: whatever is appended to a JPEG, its end stays where the image ends", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (tail, withEoi) => {
        const file = Buffer.concat([noisy, Buffer.from(tail), withEoi ? EOI : Buffer.alloc(0)]);
        expect(jpegOk(file).end).toBe(noisy.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe("walkPng", () => {
  it("walks every legitimate flavour, CRCs checked, to its one IEND, the file's last byte", () => {
    for (const [name, b] of legitimatePngs) {
      const s = pngOk(b);
      expect(s.end, name).toBe(b.length);
      expect(s.animationChunks, name).toEqual([]);
    }
    expect(pngChunks(legitimatePngs[8]![1]).filter((c) => c.type === "IDAT").length).toBeGreaterThan(1);
  });

  it("the end is the FIRST IEND, whatever follows, another IEND chunk included", () => {
    const iend = flatPng.subarray(flatPng.length - 12);
    const followers: [string, Buffer][] = [
      ["HTML, then another IEND chunk", Buffer.concat([html, iend])],
      ["a second PNG", flatPng],
      ["a ZIP", tinyZip()],
      ["NUL padding", Buffer.alloc(16)],
      ["more chunks after IEND", Buffer.concat([pngChunk("tEXt", Buffer.from("k\0v")), iend])],
    ];
    for (const [name, tail] of followers) expect(pngOk(Buffer.concat([flatPng, tail])).end, name).toBe(flatPng.length);
  });

  it("notices APNG chunks, wherever they are", () => {
    const second = Buffer.from(flatPng);
    expect(pngOk(apng(flatPng, second)).animationChunks).toEqual(["acTL", "fcTL", "fdAT"]);
    expect(pngOk(pngInsert(flatPng, pngChunk("acTL", Buffer.alloc(8)))).animationChunks).toEqual(["acTL"]);
    expect(pngOk(pngInsertBeforeEnd(flatPng, pngChunk("fdAT", Buffer.alloc(8)))).animationChunks).toEqual(["fdAT"]);
  });

  it("malformed structure: a problem named, never an exception", () => {
    const chunks = pngChunks(flatPng);
    const idat = chunks.find((c) => c.type === "IDAT")!;
    const badCrc = Buffer.from(flatPng);
    badCrc[idat.offset + 8]! ^= 0x01; // one bit of image data: the CRC no longer matches
    const badIhdrCrc = Buffer.from(flatPng);
    badIhdrCrc[29]! ^= 0xff;
    const sig = flatPng.subarray(0, 8);
    const ihdr = flatPng.subarray(8, 33);
    const idatChunk = flatPng.subarray(idat.offset, idat.offset + 12 + idat.data.length);
    const iend = flatPng.subarray(flatPng.length - 12);
    const text = pngChunk("tEXt", Buffer.from("k\0v"));
    const cases: [string, Buffer, RegExp][] = [
      ["not a PNG", Buffer.from("GIF89a-and-more"), /signature/],
      ["signature only", sig, /no IEND/],
      ["no IEND", flatPng.subarray(0, flatPng.length - 12), /no IEND/],
      ["cut inside a chunk", flatPng.subarray(0, idat.offset + 20), /runs past the end/],
      ["a wrong CRC on image data", badCrc, /wrong CRC/],
      ["a wrong CRC on IHDR", badIhdrCrc, /IHDR at offset 8\) with a wrong CRC/],
      ["a chunk before IHDR", Buffer.concat([sig, text, ihdr, idatChunk, iend]), /start with an IHDR/],
      ["a second IHDR", Buffer.concat([sig, ihdr, ihdr, idatChunk, iend]), /second IHDR/],
      ["IDAT chunks not consecutive", Buffer.concat([sig, ihdr, idatChunk, text, idatChunk, iend]), /not consecutive/],
      ["no IDAT", Buffer.concat([sig, ihdr, text, iend]), /no IDAT/],
      ["an IEND with data", Buffer.concat([sig, ihdr, idatChunk, pngChunk("IEND", Buffer.from("x"))]), /IEND chunk that is not empty/],
      ["an IHDR of the wrong size", Buffer.concat([sig, pngChunk("IHDR", Buffer.alloc(14)), idatChunk, iend]), /IHDR chunk of the wrong size/],
      ["an invalid chunk type", pngInsert(flatPng, Buffer.from([0, 0, 0, 0, 0x31, 0x32, 0x33, 0x34, 0, 0, 0, 0])), /invalid PNG chunk type/],
      ["a chunk length over 2^31-1", pngInsert(flatPng, Buffer.from([0x80, 0, 0, 0, 0x74, 0x45, 0x58, 0x74])), /longer than PNG allows/],
      ["a chunk length past the end", pngInsert(flatPng, Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x74, 0x45, 0x58, 0x74])), /runs past the end/],
    ];
    for (const [name, b, message] of cases) expect(problem(walkPng(b)), name).toMatch(message);
  });

  it("property: any cut, splice or byte flip gives a structure within the file or a problem, never a throw", () => {
    fc.assert(
      fc.property(fc.nat(flatPng.length), fc.nat(flatPng.length - 1), fc.nat(255), fc.uint8Array({ maxLength: 64 }), (cut, at, value, tail) => {
        const mutated = Buffer.concat([flatPng.subarray(0, cut), Buffer.from(tail)]);
        if (at < mutated.length) mutated[at] = value;
        const s = walkPng(mutated);
        if (!isMalformed(s)) expect(s.end).toBeLessThanOrEqual(mutated.length);
        // a flipped byte inside a chunk is caught by its CRC
        if (cut === flatPng.length && tail.length === 0 && at >= 8 && value !== flatPng[at]) expect(isMalformed(s)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("inspectPhoto: one image, exactly what was checked", () => {
  it("accepts every legitimate flavour, bytes kept as sent", async () => {
    for (const [name, b] of [...legitimateJpegs, ...legitimatePngs]) {
      const photo = await inspectPhoto(b).catch((e: ValidationError) => {
        throw new Error(`${name}: ${JSON.stringify(e.fieldErrors)}`);
      });
      expect(photo.bytes.equals(b), name).toBe(true);
    }
  });

  it("refuses any byte after the image's end: polyglots, appended images, NUL padding", async () => {
    const iend = flatPng.subarray(flatPng.length - 12);
    const cases: [string, Buffer][] = [
      ["JPEG + HTML + FF D9", Buffer.concat([noisy, html, EOI])],
      ["JPEG + a second JPEG", Buffer.concat([noisy, await jpeg(64, 64)])],
      ["JPEG + a ZIP whose comment ends in FF D9", Buffer.concat([noisy, tinyZip(Buffer.concat([Buffer.from("c"), EOI]))])],
      ["JPEG + NUL padding", Buffer.concat([noisy, Buffer.alloc(16)])],
      ["JPEG + one NUL", Buffer.concat([noisy, Buffer.alloc(1)])],
      ["PNG + HTML + another IEND chunk", Buffer.concat([flatPng, html, iend])],
      ["PNG + a second PNG", Buffer.concat([flatPng, flatPng])],
      ["PNG + NUL padding", Buffer.concat([flatPng, Buffer.alloc(4)])],
    ];
    for (const [name, b] of cases) expect(await refusal(b), name).toMatch(/bytes after the image's end/);
  });

  it("refuses more than one frame or image: APNG, two JPEG frames, MPF and MPO", async () => {
    const other = await png(96, 120);
    const sof = markerAt(noisy, 0xc0);
    const sofSegment = noisy.subarray(sof, sof + 2 + noisy.readUInt16BE(sof + 2));
    const mpf = jpegInsert(noisy, mpfSegment());
    const cases: [string, Buffer, RegExp][] = [
      ["APNG with a hidden second frame", apng(flatPng, other), /animated PNG \(acTL, fcTL, fdAT chunks\)/],
      ["a lone acTL chunk", pngInsert(flatPng, pngChunk("acTL", Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.alloc(4)]))), /animated PNG/],
      ["two JPEG frame headers", jpegInsert(noisy, sofSegment), /2 JPEG frames/],
      ["an MPF segment", mpf, /MPF multi-picture/],
      ["an MPO: MPF + the second image after EOI", Buffer.concat([mpf, await jpeg(64, 64)]), /bytes after the image's end/],
    ];
    for (const [name, b, message] of cases) expect(await refusal(b), name).toMatch(message);
    // The decoder alone would have taken the APNG and the MPF JPEG: only the walkers see what else they carry.
    expect((await sharp(apng(flatPng, other), { failOn: "warning" }).metadata()).pages ?? 1).toBe(1);
    expect((await sharp(mpf, { failOn: "warning" }).raw().toBuffer()).length).toBeGreaterThan(0);
  });

  it("refuses malformed structure with the walker's reason, before decoding", async () => {
    const sos = markerAt(noisy, 0xda);
    expect(await refusal(noisy.subarray(0, sos + 100))).toMatch(/ends inside its image data/);
    const badCrc = Buffer.from(flatPng);
    badCrc[flatPng.length - 20]! ^= 0x10;
    expect(await refusal(badCrc)).toMatch(/wrong CRC/);
    expect(await refusal(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(64)]))).toEqual(expect.any(String));
  });
});
