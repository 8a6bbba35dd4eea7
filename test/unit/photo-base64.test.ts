// decodePhotoBase64: strict, canonical, padded standard base64 only; oversize refused before decoding.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PayloadTooLargeError, ValidationError } from "../../src/errors.js";
import { PHOTO_LIMITS, decodePhotoBase64 } from "../../src/photo/inspect.js";

const refusal = (b64: string) => {
  try {
    decodePhotoBase64(b64);
  } catch (e) {
    return e;
  }
  return undefined;
};

describe("decodePhotoBase64", () => {
  it("decodes standard padded base64 of every length mod 3", () => {
    for (const n of [1, 2, 3, 4, 5, 100, 1001]) {
      const bytes = randomBytes(n);
      expect(decodePhotoBase64(bytes.toString("base64")).equals(bytes)).toBe(true);
    }
  });

  it("refuses anything but canonical, padded, standard-alphabet base64 with a photo field error", () => {
    const bytes = randomBytes(61); // 61 % 3 = 1: ends in "=="
    const good = bytes.toString("base64");
    const cases: Record<string, string> = {
      empty: "",
      "data URL": `data:image/jpeg;base64,${good}`,
      unpadded: good.replace(/=+$/, ""),
      "url-safe alphabet": Buffer.from([0xfb, 0xff, 0xbf]).toString("base64url"),
      newline: `${good.slice(0, 8)}\n${good.slice(8)}`,
      space: ` ${good}`,
      "padding in the middle": `AA==${good}`,
      "padding between characters": "AB=C",
      "padding, then a character": "ABC=D===",
      "too much padding": "A===",
      "not a multiple of 4": good.slice(0, -1),
      // "AB==" decodes to the same byte as "AA==": stray bits in the last character
      "non-canonical": "AB==",
      "non-ascii": `${good.slice(0, -4)}é===`,
    };
    for (const [name, b64] of Object.entries(cases)) {
      const err = refusal(b64);
      expect(err, name).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).statusCode).toBe(400);
      expect(Object.keys((err as ValidationError).fieldErrors), name).toEqual(["photo"]);
    }
  });

  it("413 above the decoded cap, both from the text length alone and at exactly cap + 1 byte", () => {
    const over = Buffer.alloc(PHOTO_LIMITS.maxBytes + 1).toString("base64");
    expect(refusal(over)).toBeInstanceOf(PayloadTooLargeError);
    expect(refusal("!".repeat(10 * 1024 * 1024))).toBeInstanceOf(PayloadTooLargeError); // refused before looking at the characters
    const atCap = Buffer.alloc(PHOTO_LIMITS.maxBytes, 7);
    expect(decodePhotoBase64(atCap.toString("base64")).length).toBe(PHOTO_LIMITS.maxBytes);
    expect((refusal(over) as PayloadTooLargeError).statusCode).toBe(413);
  });

  it("accepts exactly the strings a whole-string check accepts, with the same bytes (property)", () => {
    // The reference: the whole string against the anchored alphabet, and a round trip for canonical form.
    const reference = (b64: string) =>
      b64.length > 0 && b64.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(b64) && Buffer.from(b64, "base64").toString("base64") === b64
        ? Buffer.from(b64, "base64")
        : undefined;
    const chars = fc.constantFrom(..."AQgw+/=9_-. \né".split(""));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 16 }), fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString("base64"))), (b64) => {
        const expected = reference(b64);
        const got = (() => {
          try {
            return decodePhotoBase64(b64);
          } catch (e) {
            expect(e).toBeInstanceOf(ValidationError);
            return undefined;
          }
        })();
        expect(got === undefined, b64).toBe(expected === undefined);
        if (expected) expect(got!.equals(expected), b64).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });
});
