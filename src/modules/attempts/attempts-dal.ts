// The attempts listing, in SQL: one WHERE builder serves the page, the bounded count and the estimate, so
// the three can never filter differently. Every query starts from org_id (tenancy) and is shaped to walk
// verifications(org_id[, method], created_at desc, id desc) in index order.
import type { DbClient } from "../../db/types.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { VerificationMethod, VerificationStatus } from "../../kyc/tier.js";

export interface AttemptsFilter {
  orgId: string;
  method?: VerificationMethod;
  status?: VerificationStatus;
  customerId?: string;
  /** inclusive; an instant as http/instant.ts writes it for PostgreSQL (exact to the microsecond, any year) */
  from?: string;
  /** exclusive; as `from` */
  to?: string;
}

export interface AttemptRow {
  id: string;
  customerId: string;
  method: VerificationMethod;
  status: VerificationStatus;
  score: number | null;
  reason: string | null;
  createdAt: Date;
  apiKeyId: string | null;
  apiKeyPrefix: string | null;
}

const at = (d: Date) => Prisma.sql`${d.toISOString()}::timestamptz`;

function whereOf(f: AttemptsFilter, before?: { createdAt: Date; id: string }): Prisma.Sql {
  const conditions = [Prisma.sql`v.org_id = ${f.orgId}`];
  if (f.method) conditions.push(Prisma.sql`v.method = ${f.method}::"VerificationMethod"`);
  if (f.status) conditions.push(Prisma.sql`v.status = ${f.status}::"VerificationStatus"`);
  if (f.customerId) conditions.push(Prisma.sql`v.customer_id = ${f.customerId}`);
  if (f.from) conditions.push(Prisma.sql`v.created_at >= ${f.from}::timestamptz`);
  if (f.to) conditions.push(Prisma.sql`v.created_at < ${f.to}::timestamptz`);
  // Keyset: a row-value comparison the index can start from, so a deep page costs what the first one does.
  if (before) conditions.push(Prisma.sql`(v.created_at, v.id) < (${at(before.createdAt)}, ${before.id})`);
  return Prisma.join(conditions, " AND ");
}

export const attemptsDal = {
  /** Newest first; `before` (keyset) or `offset` (page) positions the page. */
  page(db: DbClient, f: AttemptsFilter, opts: { limit: number; offset: number; before?: { createdAt: Date; id: string } }): Promise<AttemptRow[]> {
    return db.$queryRaw<AttemptRow[]>`
      SELECT v.id, v.customer_id AS "customerId", v.method::text AS method, v.status::text AS status, v.score, v.reason,
             v.created_at AS "createdAt", v.api_key_id AS "apiKeyId", k.prefix AS "apiKeyPrefix"
      FROM verifications v LEFT JOIN api_keys k ON k.id = v.api_key_id
      WHERE ${whereOf(f, opts.before)}
      ORDER BY v.created_at DESC, v.id DESC
      LIMIT ${opts.limit} OFFSET ${opts.offset}`;
  },
  /** The number of matching rows, counting no further than `cap + 1` (a bounded index scan). */
  async countUpTo(db: DbClient, f: AttemptsFilter, cap: number): Promise<number> {
    const rows = await db.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM (SELECT 1 FROM verifications v WHERE ${whereOf(f)} LIMIT ${cap + 1}) AS bounded`;
    return rows[0]!.n;
  },
  /** The planner's estimate of the matching rows (table statistics; no rows are read). */
  async estimate(db: DbClient, f: AttemptsFilter): Promise<number> {
    const rows = await db.$queryRaw<{ "QUERY PLAN": unknown }[]>`EXPLAIN (FORMAT JSON) SELECT 1 FROM verifications v WHERE ${whereOf(f)}`;
    const plan = rows[0]?.["QUERY PLAN"];
    const parsed = (typeof plan === "string" ? JSON.parse(plan) : plan) as { Plan?: { "Plan Rows"?: number } }[];
    return Math.round(parsed[0]?.Plan?.["Plan Rows"] ?? 0);
  },
};
