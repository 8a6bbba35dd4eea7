// The `photo` member shared by every endpoint that receives a face photo (the Dukcapil ingest, the face
// match): the same JSON field rules and the same request-body cap, so both refuse exactly the same input.
import { z } from "zod";

/** Whole request body of a photo-carrying endpoint: a 5 MiB photo in base64 (~6.7 MiB) plus the rest. */
export const PHOTO_REQUEST_BODY_BYTES = 8 * 1024 * 1024;

/** Standard, padded base64 of a JPEG or PNG (decoded and inspected by photo/inspect.ts). */
export const PhotoBase64 = z
  .string()
  .refine((s) => !s.startsWith("data:"), "must be bare base64, without a data: URL prefix")
  .pipe(z.base64("must be standard, padded base64 with no whitespace"))
  // The contract states what z.base64 checks (the input side of a pipe documents nothing by itself).
  .meta({
    contentEncoding: "base64",
    pattern: z.regexes.base64.source,
    description:
      "standard, padded base64 (no whitespace, no data: prefix) of one JPEG or PNG image: nothing after its end, one frame, " +
      "each side 64-4096 px, at most 5 MiB decoded (413 above); see the README's \"Limits and timeouts\"",
  });
