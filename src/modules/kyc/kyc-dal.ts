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
