import type { DbClient } from "../../db/types.js";
import type { Tier } from "../../kyc/tier.js";

export const tierEventsDal = {
  create(
    db: DbClient,
    data: { id: string; orgId: string; customerId: string; fromTier: Tier; toTier: Tier; reason: string; verificationId: string; createdAt: Date },
  ) {
    return db.tierEvent.create({ data, select: { id: true } });
  },
};

/** The customer detail's reads. Tenancy is part of every lookup: org_id is always in the WHERE. */
export const kycReadDal = {
  customer(db: DbClient, orgId: string, customerId: string) {
    return db.customer.findFirst({ where: { id: customerId, orgId }, select: { id: true, kycTier: true, kycLastVerifiedAt: true } });
  },
  /** Every verification of the customer, newest first (served by verifications(customer_id, created_at desc)). */
  verifications(db: DbClient, orgId: string, customerId: string) {
    return db.verification.findMany({
      where: { customerId, orgId },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { id: true, method: true, status: true, score: true, reason: true, createdAt: true },
    });
  },
  /** The customer's face references (current and superseded), newest first; never a photo or a template. */
  references(db: DbClient, orgId: string, customerId: string) {
    return db.faceEnrolment.findMany({
      where: { customerId, orgId },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { id: true, source: true, fallbackStub: true, fallbackCause: true, templateModel: true, createdAt: true, supersededAt: true, erasedAt: true },
    });
  },
  /** The tier history, oldest first: it reads as the customer's progression. */
  tierEvents(db: DbClient, orgId: string, customerId: string) {
    return db.tierEvent.findMany({
      where: { customerId, orgId },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      select: { id: true, fromTier: true, toTier: true, reason: true, createdAt: true },
    });
  },
};
