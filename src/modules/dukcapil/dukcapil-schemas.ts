import { z } from "zod";
import { MAX_JSON_DEPTH } from "../../http/json-member.js";
import { CUID_PATTERN } from "../../ids.js";
import { PHOTO_REQUEST_BODY_BYTES, PhotoBase64 } from "../../photo/photo-field.js";

/** Caps of the ingest request (documented in the README and openapi.yaml). */
export const INGEST_LIMITS = {
  /** Whole request body: a 5 MiB photo in base64 (~6.7 MiB) plus the envelope. */
  bodyBytes: PHOTO_REQUEST_BODY_BYTES,
  /** The raw registry envelope, as sent. */
  rawBytes: 256 * 1024,
  reasonChars: 500,
} as const;

/** Characters (Unicode code points, as JSON Schema's maxLength counts them) in s, counted up to `max` + 1. */
function charactersUpTo(s: string, max: number): number {
  if (s.length <= max) return s.length; // never more code points than UTF-16 units
  let n = 0;
  for (const _ of s) if (++n > max) break;
  return n;
}

export const DukcapilVerdictBody = z
  .strictObject({
    customerId: z.string().regex(CUID_PATTERN, "must be a CUID"),
    valid: z.boolean(),
    photo: PhotoBase64.nullish(),
    raw: z
      .record(z.string(), z.unknown(), "must be a JSON object")
      .nullish()
      .describe(`the registry's envelope, stored byte for byte as sent (at most ${INGEST_LIMITS.rawBytes / 1024} KiB, 413 above; like any body, nested at most ${MAX_JSON_DEPTH} levels, 400 above)`),
    reason: z
      .string()
      .refine((s) => charactersUpTo(s, INGEST_LIMITS.reasonChars) <= INGEST_LIMITS.reasonChars, `must be at most ${INGEST_LIMITS.reasonChars} characters`)
      .meta({ maxLength: INGEST_LIMITS.reasonChars })
      // PostgreSQL text holds neither NUL nor half a surrogate pair (it would fail the insert, or be altered)
      // eslint-disable-next-line no-control-regex -- NUL is exactly what this refuses
      .regex(/^[^\u0000\p{Cs}]*$/u, "must be valid Unicode text without NUL characters")
      .nullish(),
  })
  .superRefine((body, ctx) => {
    if (body.valid && !body.photo) ctx.addIssue({ code: "custom", path: ["photo"], message: "required when valid is true" });
  })
  // The refinement above, for the published contract (zod cannot express it as JSON Schema by itself).
  // `unevaluatedProperties: true` is JSON Schema's default, spelled out for linters (Redocly) that check
  // examples as if every subschema closed its object.
  .meta({
    if: { properties: { valid: { const: true } }, required: ["valid"] },
    then: { properties: { photo: { type: "string", minLength: 1 } }, required: ["photo"], unevaluatedProperties: true },
  });

export const DukcapilVerdictResponse = z.object({
  verification: z.union([
    z.object({ id: z.string(), status: z.literal("verified"), score: z.number().int() }),
    z.object({ id: z.string(), status: z.literal("failed") }),
  ]),
  enrolment: z.object({ id: z.string(), source: z.literal("dukcapil"), fallbackStub: z.boolean() }).nullable(),
});
