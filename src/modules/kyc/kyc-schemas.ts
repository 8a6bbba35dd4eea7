import { z } from "zod";
import { CUID_PATTERN } from "../../ids.js";
import { TIERS, VERIFICATION_METHODS, VERIFICATION_STATUSES } from "../../kyc/tier.js";
import { ENROLMENT_SOURCES } from "../enrolments/enrolments-dal.js";

export const KycParams = z.strictObject({ customerId: z.string().regex(CUID_PATTERN, "must be a CUID") });

const Tier = z.enum(TIERS);

/** Exactly the conventions' customer detail (no `data` wrapper: the conventions give this shape). */
export const KycDetailResponse = z.object({
  customer: z.object({ id: z.string(), kycLevel: Tier, kycLastVerifiedAt: z.string().nullable() }),
  eligible: Tier.describe("the tier the verification history makes the customer eligible for; equals kycLevel"),
  verifications: z
    .array(
      z.object({
        id: z.string(),
        method: z.enum(VERIFICATION_METHODS),
        status: z.enum(VERIFICATION_STATUSES),
        score: z.number().int().nullable(),
        reason: z.string().nullable().describe("why a verdict was declined, as the bank sent it"),
        createdAt: z.string(),
      }),
    )
    .describe("every verification, newest first"),
  history: z
    .array(z.object({ id: z.string(), fromTier: Tier, toTier: Tier, reason: z.string(), createdAt: z.string() }))
    .describe("every tier change, oldest first"),
  references: z
    .array(
      z.object({
        id: z.string(),
        source: z.enum(ENROLMENT_SOURCES),
        fallbackStub: z.boolean().describe("true while the reference has no face template a match can use"),
        fallbackCause: z.string().nullable().describe("why it has none (no_face, multiple_faces, engine_off, engine_error, timeout)"),
        model: z.string().nullable().describe("the model id of its face template; null for a stub"),
        createdAt: z.string(),
        supersededAt: z.string().nullable().describe("set once a newer reference of the same source replaced it"),
        erasedAt: z
          .string()
          .nullable()
          .describe("set once the reference's photo and template were erased (admin customer erase): it can no longer be matched against"),
      }),
    )
    .describe("the customer's face references, newest first (never a photo or a template)"),
});
export type KycDetail = z.infer<typeof KycDetailResponse>;
