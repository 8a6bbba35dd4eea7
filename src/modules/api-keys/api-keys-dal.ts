import type { DbClient } from "../../db/types.js";
import type { KeyEnv } from "./api-keys-types.js";

export const apiKeysDal = {
  create(
    db: DbClient,
    data: { id: string; orgId: string; name: string | null; env: KeyEnv; prefix: string; hash: Uint8Array<ArrayBuffer>; scopes: string[]; expiresAt: Date | null },
  ) {
    return db.apiKey.create({ data });
  },
  /** The key with the org facts every request needs (capabilities, negotiated limits): one indexed query. */
  findByHash(db: DbClient, hash: Uint8Array<ArrayBuffer>) {
    return db.apiKey.findUnique({
      where: { hash },
      include: { org: { select: { id: true, dukcapilEnabled: true, rateLimits: { select: { bucket: true, perMinute: true } } } } },
    });
  },
  revoke(db: DbClient, id: string, at: Date) {
    return db.apiKey.updateManyAndReturn({ where: { id, revokedAt: null }, data: { revokedAt: at } });
  },
  findById(db: DbClient, id: string) {
    return db.apiKey.findUnique({ where: { id } });
  },
  /** Writes many last-used times in one statement; never moves a time backwards. */
  touchMany(db: DbClient, entries: { id: string; at: Date }[]) {
    const ids = entries.map((e) => e.id);
    const ats = entries.map((e) => e.at.toISOString());
    return db.$executeRaw`
      UPDATE api_keys AS k SET last_used_at = v.at
      FROM unnest(${ids}::text[], ${ats}::timestamptz[]) AS v(id, at)
      WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`;
  },
};
