import { inTransaction } from "../../db/transaction.js";
import type { PrismaClient } from "../../db/types.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { FACE_MATCH_THRESHOLD_RANGE } from "../../face/match-policy.js";
import { RETENTION_DAYS_RANGE } from "../retention/retention-service.js";
import { newId } from "../../ids.js";
import { orgsDal } from "./orgs-dal.js";
import { RATE_LIMIT_BUCKETS, isRateLimitBucket, type OrgView } from "./orgs-types.js";

type OrgRow = NonNullable<Awaited<ReturnType<typeof orgsDal.findById>>>;

function toView(org: OrgRow): OrgView {
  return {
    id: org.id,
    name: org.name,
    dukcapilEnabled: org.dukcapilEnabled,
    faceMatchThreshold: org.faceMatchThreshold,
    retainRawDays: org.retainRawDays,
    retainSelfiesDays: org.retainSelfiesDays,
    rateLimits: Object.fromEntries(org.rateLimits.map((l) => [l.bucket, l.perMinute])),
    createdAt: org.createdAt.toISOString(),
  };
}

export const MAX_PER_MINUTE = 100_000;

export function createOrgsService({ prisma }: { prisma: PrismaClient }) {
  return {
    async create(input: { name: string; dukcapilEnabled?: boolean }): Promise<OrgView> {
      const name = input.name.trim();
      if (!name || name.length > 200) throw new ValidationError("invalid org", { name: ["must be 1-200 characters"] });
      return toView(await orgsDal.create(prisma, { id: newId.org(), name, dukcapilEnabled: input.dukcapilEnabled ?? false }));
    },

    async get(id: string): Promise<OrgView> {
      const org = await orgsDal.findById(prisma, id);
      if (!org) throw new NotFoundError("org");
      return toView(org);
    },

    /**
     * Turns capabilities on or off, sets negotiated per-bucket limits, the org's own face-match threshold
     * (null: back to the platform default) and its retention windows (null: off), all or nothing.
     */
    async update(
      id: string,
      change: {
        dukcapilEnabled?: boolean;
        limits?: Record<string, number>;
        faceMatchThreshold?: number | null;
        /** Retention windows in days; null: off (kept until erased). */
        retainRawDays?: number | null;
        retainSelfiesDays?: number | null;
      },
    ): Promise<OrgView> {
      for (const field of ["retainRawDays", "retainSelfiesDays"] as const) {
        const d = change[field];
        if (d !== undefined && d !== null && (!Number.isInteger(d) || d < RETENTION_DAYS_RANGE.min || d > RETENTION_DAYS_RANGE.max)) {
          throw new ValidationError("invalid retention window", { [field]: [`must be a whole number of days ${RETENTION_DAYS_RANGE.min}-${RETENTION_DAYS_RANGE.max}, or off`] });
        }
      }
      const t = change.faceMatchThreshold;
      if (t !== undefined && t !== null && (!Number.isInteger(t) || t < FACE_MATCH_THRESHOLD_RANGE.min || t > FACE_MATCH_THRESHOLD_RANGE.max)) {
        throw new ValidationError("invalid face-match threshold", {
          faceMatchThreshold: [`must be an integer ${FACE_MATCH_THRESHOLD_RANGE.min}-${FACE_MATCH_THRESHOLD_RANGE.max}`],
        });
      }
      for (const [bucket, perMinute] of Object.entries(change.limits ?? {})) {
        if (!isRateLimitBucket(bucket)) {
          throw new ValidationError("invalid rate limit", { limit: [`unknown bucket "${bucket}"; one of ${Object.keys(RATE_LIMIT_BUCKETS).join(", ")}`] });
        }
        if (!Number.isInteger(perMinute) || perMinute < 1 || perMinute > MAX_PER_MINUTE) {
          throw new ValidationError("invalid rate limit", { limit: [`per-minute limit must be an integer 1-${MAX_PER_MINUTE}`] });
        }
      }
      return inTransaction(prisma, async (tx) => {
        if (!(await orgsDal.findById(tx, id))) throw new NotFoundError("org");
        if (change.dukcapilEnabled !== undefined) await orgsDal.setDukcapil(tx, id, change.dukcapilEnabled);
        if (change.faceMatchThreshold !== undefined) await orgsDal.setFaceMatchThreshold(tx, id, change.faceMatchThreshold);
        if (change.retainRawDays !== undefined || change.retainSelfiesDays !== undefined) {
          await orgsDal.setRetention(tx, id, { retainRawDays: change.retainRawDays, retainSelfiesDays: change.retainSelfiesDays });
        }
        for (const [bucket, perMinute] of Object.entries(change.limits ?? {})) await orgsDal.setRateLimit(tx, id, bucket, perMinute);
        return toView((await orgsDal.findById(tx, id))!);
      });
    },
  };
}
export type OrgsService = ReturnType<typeof createOrgsService>;
