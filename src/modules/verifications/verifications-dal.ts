import type { DbClient } from "../../db/types.js";
import type { VerificationFact, VerificationMethod, VerificationStatus } from "../../kyc/tier.js";

export const verificationsDal = {
  create(
    db: DbClient,
    data: {
      id: string;
      orgId: string;
      customerId: string;
      method: VerificationMethod;
      status: VerificationStatus;
      score: number | null;
      reason: string | null;
      rawSealed: Uint8Array<ArrayBuffer> | null;
      apiKeyId: string | null;
      requestId: string | null;
      createdAt: Date;
      /** Face match evidence (method face_match only). */
      referenceEnrolmentId?: string;
      matchModel?: string;
      matchThreshold?: number;
    },
  ) {
    return db.verification.create({ data, select: { id: true, status: true, score: true, createdAt: true } });
  },
  /** Every (method, status) on record for a customer: the input of the tier rule. */
  facts(db: DbClient, customerId: string): Promise<VerificationFact[]> {
    return db.verification.findMany({ where: { customerId }, select: { method: true, status: true } });
  },
};
