import type { DbClient } from "../../db/types.js";
import type { Tier } from "../../kyc/tier.js";

export const customersDal = {
  create(db: DbClient, data: { id: string; orgId: string; externalRef: string | null }) {
    return db.customer.create({ data });
  },
  /** Tenancy is part of the lookup: another org's customer is simply not found. */
  findInOrg(db: DbClient, orgId: string, id: string) {
    return db.customer.findFirst({ where: { id, orgId } });
  },
  /** Locks the customer row for the rest of the transaction: verdicts for one customer apply one at a time. */
  async lockInOrg(db: DbClient, orgId: string, id: string): Promise<{ id: string; kycTier: Tier } | undefined> {
    const rows = await db.$queryRaw<{ id: string; kyc_tier: Tier }[]>`
      SELECT id, kyc_tier::text AS kyc_tier FROM customers WHERE id = ${id} AND org_id = ${orgId} FOR UPDATE`;
    const row = rows[0];
    return row ? { id: row.id, kycTier: row.kyc_tier } : undefined;
  },
  setKyc(db: DbClient, id: string, data: { kycTier?: Tier; kycLastVerifiedAt?: Date }) {
    return db.customer.update({ where: { id }, data });
  },
};
