import type { DbClient } from "../../db/types.js";

const withLimits = { rateLimits: { select: { bucket: true, perMinute: true } } } as const;

export const orgsDal = {
  create(db: DbClient, data: { id: string; name: string; dukcapilEnabled: boolean }) {
    return db.org.create({ data, include: withLimits });
  },
  findById(db: DbClient, id: string) {
    return db.org.findUnique({ where: { id }, include: withLimits });
  },
  setDukcapil(db: DbClient, id: string, enabled: boolean) {
    return db.org.update({ where: { id }, data: { dukcapilEnabled: enabled } });
  },
  setFaceMatchThreshold(db: DbClient, id: string, threshold: number | null) {
    return db.org.update({ where: { id }, data: { faceMatchThreshold: threshold } });
  },
  /** Retention windows in days; null: kept until erased. Undefined leaves a window as it is. */
  setRetention(db: DbClient, id: string, windows: { retainRawDays?: number | null; retainSelfiesDays?: number | null }) {
    return db.org.update({ where: { id }, data: windows });
  },
  /** Orgs with a retention window set (all, or the one given), in id order: what a sweep walks. */
  withRetention(db: DbClient, orgId?: string) {
    return db.org.findMany({
      where: { ...(orgId ? { id: orgId } : {}), OR: [{ retainRawDays: { not: null } }, { retainSelfiesDays: { not: null } }] },
      orderBy: { id: "asc" },
      select: { id: true, retainRawDays: true, retainSelfiesDays: true },
    });
  },
  setRateLimit(db: DbClient, orgId: string, bucket: string, perMinute: number) {
    return db.orgRateLimit.upsert({
      where: { orgId_bucket: { orgId, bucket } },
      create: { orgId, bucket, perMinute },
      update: { perMinute },
    });
  },
};
