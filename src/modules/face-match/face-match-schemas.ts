import { z } from "zod";
import { CUID_PATTERN } from "../../ids.js";
import { PhotoBase64 } from "../../photo/photo-field.js";
import { ENROLMENT_SOURCES } from "../enrolments/enrolments-dal.js";

export const FaceMatchBody = z.strictObject({
  customerId: z.string().regex(CUID_PATTERN, "must be a CUID"),
  photo: PhotoBase64.describe("the live selfie (JPEG or PNG), standard base64: the same photo rules as the Dukcapil ingest"),
});

export const FaceMatchResponse = z.object({
  verification: z.object({
    id: z.string(),
    status: z.enum(["verified", "failed"]).describe("verified when score >= threshold"),
    score: z.number().int().min(0).max(100).describe("round(100 x max(0, cosine similarity)) of the two templates; not a probability"),
  }),
  reference: z.object({ id: z.string(), source: z.enum(ENROLMENT_SOURCES) }).describe("the face enrolment compared against"),
  threshold: z.number().int().min(0).max(100).describe("the org's decision threshold on the score's scale"),
  model: z.string().describe("the model (and pipeline version) that made both templates"),
});
