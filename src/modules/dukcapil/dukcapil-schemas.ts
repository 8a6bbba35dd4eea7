import { z } from "zod";
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

export const DukcapilVerdictBody = z
  .strictObject({
    customerId: z.string().regex(CUID_PATTERN, "must be a CUID"),
    valid: z.boolean(),
    photo: PhotoBase64.nullish(),
    raw: z.record(z.string(), z.unknown(), "must be a JSON object").nullish(),
    reason: z
      .string()
      .max(INGEST_LIMITS.reasonChars, `must be at most ${INGEST_LIMITS.reasonChars} characters`)
      // PostgreSQL text holds neither NUL nor half a surrogate pair (it would fail the insert, or be altered)
      .refine((s) => !s.includes("\u0000") && !/\p{Cs}/u.test(s), "must be valid Unicode text without NUL characters")
      .nullish(),
  })
  .superRefine((body, ctx) => {
    if (body.valid && !body.photo) ctx.addIssue({ code: "custom", path: ["photo"], message: "required when valid is true" });
  });

export const DukcapilVerdictResponse = z.object({
  verification: z.union([
    z.object({ id: z.string(), status: z.literal("verified"), score: z.number().int() }),
    z.object({ id: z.string(), status: z.literal("failed") }),
  ]),
  enrolment: z.object({ id: z.string(), source: z.literal("dukcapil"), fallbackStub: z.boolean() }).nullable(),
});
