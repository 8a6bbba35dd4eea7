// What the photo rules tell an integrator, word for word: each refusal names its reason in the photo's field
// error (README "Limits and timeouts"), and a bank's engineer fixes their client from that text alone. The
// statuses are pinned by the hostile corpus; these pin the words, so a refusal cannot quietly say another.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodePhotoBase64, inspectPhoto, PHOTO_LIMITS } from "../../src/photo/inspect.js";

const jpeg = () => sharp({ create: { width: 80, height: 96, channels: 3, background: { r: 120, g: 90, b: 60 } } }).jpeg().toBuffer();
const png = () => sharp({ create: { width: 80, height: 96, channels: 3, background: { r: 120, g: 90, b: 60 } } }).png().toBuffer();
const refusal = (message: string) => ({ fieldErrors: { photo: [message] } });

describe("base64 refusals", () => {
  it("say what is wrong with the encoding", async () => {
    const good = (await jpeg()).toString("base64");
    expect(() => decodePhotoBase64(`data:image/jpeg;base64,${good}`)).toThrow(expect.objectContaining(refusal("must be bare base64, without a data: URL prefix")));
    for (const bad of ["", `${good.slice(0, 8)} ${good.slice(8)}`, good.slice(1), "!!!!", "AB=C", "A===", `AA==${good}`]) {
      expect(() => decodePhotoBase64(bad), bad.slice(0, 12)).toThrow(expect.objectContaining(refusal("must be standard, padded base64 with no whitespace")));
    }
    expect(() => decodePhotoBase64("AB==")).toThrow(expect.objectContaining(refusal("is not canonical base64"))); // "AA==" is the canonical form
  });

  it("refuse more than the photo cap, from the length before decoding and from the bytes after", () => {
    const message = `photo exceeds ${PHOTO_LIMITS.maxBytes} bytes`;
    expect(() => decodePhotoBase64("A".repeat(Math.ceil(PHOTO_LIMITS.maxBytes / 3) * 4 + 4))).toThrow(message);
    // 5 MiB + 1 byte encodes to exactly the length cap: only the decoded size can refuse it
    expect(() => decodePhotoBase64(Buffer.alloc(PHOTO_LIMITS.maxBytes + 1).toString("base64"))).toThrow(message);
    expect(decodePhotoBase64(Buffer.alloc(PHOTO_LIMITS.maxBytes).toString("base64"))).toHaveLength(PHOTO_LIMITS.maxBytes);
  });
});

describe("image refusals", () => {
  it("a file that is neither JPEG nor PNG, whatever it is", async () => {
    const gif = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
    const webp = await sharp({ create: { width: 80, height: 80, channels: 3, background: "#888" } }).webp().toBuffer();
    for (const bytes of [gif, webp, Buffer.from("hello"), Buffer.alloc(16)]) {
      await expect(inspectPhoto(bytes)).rejects.toMatchObject(refusal("must be a JPEG or PNG image"));
    }
  });

  it("counts the bytes after the image's end and names where the image ended", async () => {
    await expect(inspectPhoto(Buffer.concat([await jpeg(), Buffer.alloc(5)]))).rejects.toMatchObject(
      refusal("has 5 bytes after the image's end (its first JPEG end-of-image marker); send the image alone"),
    );
    await expect(inspectPhoto(Buffer.concat([await png(), Buffer.from("<html>")]))).rejects.toMatchObject(
      refusal("has 6 bytes after the image's end (its first PNG IEND chunk); send the image alone"),
    );
  });

  it("sound JPEG and PNG are told apart by their signatures", async () => {
    await expect(inspectPhoto(await jpeg())).resolves.toMatchObject({ mediaType: "image/jpeg", width: 80, height: 96 });
    await expect(inspectPhoto(await png())).resolves.toMatchObject({ mediaType: "image/png", width: 80, height: 96 });
  });

  it("a JPEG cut inside its scan, an end marker after the cut: truncated or corrupt", async () => {
    const good = await jpeg();
    const sos = good.indexOf(Buffer.from([0xff, 0xda]));
    // the walk stops at that end marker, so only decoding the whole image finds what is missing
    await expect(inspectPhoto(Buffer.concat([good.subarray(0, sos + 20), Buffer.from([0xff, 0xd9])]))).rejects.toMatchObject(refusal("is truncated or corrupt"));
  });
});
