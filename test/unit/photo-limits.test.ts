// The photo's side and pixel limits at their edges (README "Limits and timeouts": each side 64-4096 px, at
// most 4096x4096 pixels): the last accepted value and the first refused one, for both formats.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { PHOTO_LIMITS, inspectPhoto } from "../../src/photo/inspect.js";

const image = (width: number, height: number, format: "jpeg" | "png") =>
  sharp({ create: { width, height, channels: 3, background: { r: 120, g: 90, b: 60 } } })[format]().toBuffer();

describe("photo side limits", () => {
  it("are the documented ones", () => {
    expect(PHOTO_LIMITS).toMatchObject({ minSide: 64, maxSide: 4096, maxPixels: 4096 * 4096, maxBytes: 5 * 1024 * 1024 });
  });

  for (const format of ["jpeg", "png"] as const) {
    it(`${format}: 64 and 4096 px sides are accepted`, async () => {
      for (const [w, h] of [[64, 64], [64, 4096], [4096, 64], [4096, 4096]] as const) {
        await expect(inspectPhoto(await image(w, h, format)), `${w}x${h}`).resolves.toMatchObject({ width: w, height: h });
      }
    }, 60_000);

    it(`${format}: 63 and 4097 px sides are refused with the photo's field error`, async () => {
      for (const [w, h] of [[63, 64], [64, 63], [4097, 64], [64, 4097]] as const) {
        await expect(inspectPhoto(await image(w, h, format)), `${w}x${h}`).rejects.toMatchObject({
          fieldErrors: { photo: [`each side must be between 64 and 4096 pixels (got ${w}x${h})`] },
        });
      }
    });
  }
});
