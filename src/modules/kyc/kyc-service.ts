// The customer's KYC detail as analysts read it: stored tier, the tier recomputed from history, every
// verification and every tier change.
import type { PrismaClient } from "../../db/types.js";
import { NotFoundError } from "../../errors.js";
import { tierFromHistory } from "../../kyc/tier.js";
import { kycReadDal } from "./kyc-dal.js";
import type { KycDetail } from "./kyc-schemas.js";

export function createKycService({ prisma }: { prisma: PrismaClient }) {
  return {
    async detail(orgId: string, customerId: string): Promise<KycDetail> {
      // One snapshot for the three reads, so a verdict landing in between cannot make `eligible` and the
      // stored tier disagree in one response.
      const [customer, verifications, history, references] = await prisma.$transaction(
        [
          kycReadDal.customer(prisma, orgId, customerId),
          kycReadDal.verifications(prisma, orgId, customerId),
          kycReadDal.tierEvents(prisma, orgId, customerId),
          kycReadDal.references(prisma, orgId, customerId),
        ],
        { isolationLevel: "RepeatableRead" },
      );
      if (!customer) throw new NotFoundError("customer");
      return {
        customer: { id: customer.id, kycLevel: customer.kycTier, kycLastVerifiedAt: customer.kycLastVerifiedAt?.toISOString() ?? null },
        eligible: tierFromHistory(verifications),
        verifications: verifications.map((v) => ({
          id: v.id,
          method: v.method,
          status: v.status,
          score: v.score,
          reason: v.reason,
          createdAt: v.createdAt.toISOString(),
        })),
        history: history.map((e) => ({ id: e.id, fromTier: e.fromTier, toTier: e.toTier, reason: e.reason, createdAt: e.createdAt.toISOString() })),
        references: references.map((r) => ({
          id: r.id,
          source: r.source,
          fallbackStub: r.fallbackStub,
          fallbackCause: r.fallbackCause,
          model: r.templateModel,
          createdAt: r.createdAt.toISOString(),
          supersededAt: r.supersededAt?.toISOString() ?? null,
          erasedAt: r.erasedAt?.toISOString() ?? null,
        })),
      };
    },
  };
}
export type KycService = ReturnType<typeof createKycService>;
