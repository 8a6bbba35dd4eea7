import { inTransaction } from "../../db/transaction.js";
import type { PrismaClient } from "../../db/types.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { newId } from "../../ids.js";
import { orgsDal } from "./orgs-dal.js";
import { RATE_LIMIT_BUCKETS, isRateLimitBucket, type OrgView } from "./orgs-types.js";

type OrgRow = NonNullable<Awaited<ReturnType<typeof orgsDal.findById>>>;

function toView(org: OrgRow): OrgView {
  return {
    id: org.id,
    name: org.name,
    dukcapilEnabled: org.dukcapilEnabled,
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

    /** Turns capabilities on or off and sets negotiated per-bucket limits, all or nothing. */
    async update(id: string, change: { dukcapilEnabled?: boolean; limits?: Record<string, number> }): Promise<OrgView> {
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
        for (const [bucket, perMinute] of Object.entries(change.limits ?? {})) await orgsDal.setRateLimit(tx, id, bucket, perMinute);
        return toView((await orgsDal.findById(tx, id))!);
      });
    },
  };
}
export type OrgsService = ReturnType<typeof createOrgsService>;
