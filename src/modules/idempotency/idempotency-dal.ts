import type { DbClient } from "../../db/types.js";
import type { Prisma } from "../../generated/prisma/client.js";

export interface IdempotencyRecord {
  orgId: string;
  key: string;
  route: string;
  requestHash: string;
  state: string;
  statusCode: number | null;
  responseBody: Prisma.JsonValue | null;
  createdAt: Date;
  expiresAt: Date;
}

/** A claim on a key is identified by the row's `createdAt` (set by us, millisecond precision): a fencing token. */
export interface ClaimRef {
  orgId: string;
  key: string;
  claimedAt: Date;
}

export const idempotencyDal = {
  /** Inserts an in_progress row unless the key exists; true when this call inserted it (the key is ours). */
  async claim(db: DbClient, data: { orgId: string; key: string; route: string; requestHash: string; claimedAt: Date; expiresAt: Date }): Promise<boolean> {
    const { count } = await db.idempotencyKey.createMany({
      data: [
        {
          orgId: data.orgId,
          key: data.key,
          route: data.route,
          requestHash: data.requestHash,
          state: "in_progress",
          createdAt: data.claimedAt,
          expiresAt: data.expiresAt,
        },
      ],
      skipDuplicates: true,
    });
    return count === 1;
  },

  find(db: DbClient, orgId: string, key: string): Promise<IdempotencyRecord | null> {
    return db.idempotencyKey.findUnique({ where: { orgId_key: { orgId, key } } });
  },

  /** Stores the response on our own claim only; 0 when the claim is gone (expired and taken over). */
  async complete(db: DbClient, claim: ClaimRef, response: { statusCode: number; body: string; at: Date }): Promise<boolean> {
    const { count } = await db.idempotencyKey.updateMany({
      where: { orgId: claim.orgId, key: claim.key, state: "in_progress", createdAt: claim.claimedAt },
      data: { state: "completed", statusCode: response.statusCode, responseBody: response.body, completedAt: response.at },
    });
    return count === 1;
  },

  /** Drops our own unfinished claim, so a retry can execute. */
  async release(db: DbClient, claim: ClaimRef): Promise<void> {
    await db.idempotencyKey.deleteMany({ where: { orgId: claim.orgId, key: claim.key, state: "in_progress", createdAt: claim.claimedAt } });
  },

  /** Deletes one row as it was seen (same createdAt and state), so two racing deleters cannot remove a newer claim. */
  async deleteSeen(db: DbClient, seen: Pick<IdempotencyRecord, "orgId" | "key" | "state" | "createdAt">): Promise<void> {
    await db.idempotencyKey.deleteMany({ where: { orgId: seen.orgId, key: seen.key, state: seen.state, createdAt: seen.createdAt } });
  },

  /** Deletes up to `limit` expired rows; returns how many. */
  purgeExpired(db: DbClient, now: Date, limit: number): Promise<number> {
    return db.$executeRaw`
      DELETE FROM idempotency_keys WHERE (org_id, key) IN (
        SELECT org_id, key FROM idempotency_keys WHERE expires_at <= ${now} LIMIT ${limit})`;
  },
};
