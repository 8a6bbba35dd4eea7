import { z } from "zod";

/** The bank's own reference. It must not hold personal data, so obvious identifiers are refused. */
export const ExternalRef = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:\-/]+$/, "may contain only letters, digits and . _ : - /")
  .refine((v) => !/^\d{16}$/.test(v), "looks like a NIK; externalRef must not hold personal data");

export const CreateCustomerBody = z.strictObject({ externalRef: ExternalRef.optional() });

export const CustomerData = z.object({
  id: z.string(),
  externalRef: z.string().nullable(),
  kycLevel: z.enum(["none", "basic", "standard", "premium"]),
  createdAt: z.string(),
});
