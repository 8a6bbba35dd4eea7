// Retention (README "Erasure and retention"): each org may keep raw registry envelopes and face-match selfies
// for a number of days; the sweep erases what is older. Enrolment photos are the reference itself and are
// never swept (only `customer erase` removes them).
//
// One sweep at a time across all replicas: the sweep holds a lease row in the database, renewed after every
// batch and released at the end; a holder that dies lets it expire. Each batch is one UPDATE of at most
// `batchSize` rows (a short transaction of its own, oldest first), so no lock is held for long and a sweep
// stopped anywhere is finished by the next one. The erasure record of each org is written once its part of
// the run is done, counting what the run erased there.
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { ulid } from "ulid";
import type { PrismaClient } from "../../db/types.js";
import { AppError, NotFoundError } from "../../errors.js";
import { orgsDal } from "../orgs/orgs-dal.js";
import { erasureDal } from "../erasure/erasure-dal.js";
import { newErasureId } from "../erasure/erasure-service.js";
import { leaseDal } from "./lease-dal.js";

export const RETENTION_LEASE = "retention_sweep";
export const RETENTION_LEASE_TTL_MS = 60_000;
export const DEFAULT_RETENTION_BATCH = 200;
/** `org set --retain-raw-days / --retain-selfies-days`: whole days in this range, or off. */
export const RETENTION_DAYS_RANGE = { min: 1, max: 3650 } as const;
export const RETENTION_ACTOR = "retention";
const DAY_MS = 86_400_000;

export interface SweepCounts {
  selfies: number;
  raw: number;
}

export interface OrgSweep extends SweepCounts {
  orgId: string;
  /** The erasure record written for this org (only when the run erased something there). */
  recordId: string | null;
}

export interface SweepResult {
  erased: SweepCounts;
  /** false when the run stopped before the end (shutdown, or the lease was lost): the next run finishes it. */
  complete: boolean;
  orgs: OrgSweep[];
}

export class SweepBusyError extends AppError {
  constructor(holder: string | undefined) {
    super(409, `a retention sweep is already running (${holder ?? "another process"}); try again when it is done`, "sweep_in_progress");
  }
}

export interface RetentionServiceDeps {
  prisma: PrismaClient;
  now?: () => Date;
  batchSize?: number;
}

const days = (n: number) => `${n} day${n === 1 ? "" : "s"}`;
const windowsReason = (raw: number | null, selfies: number | null) =>
  `retention: ${[raw !== null ? `raw envelopes older than ${days(raw)}` : null, selfies !== null ? `selfies older than ${days(selfies)}` : null]
    .filter(Boolean)
    .join(", ")}`;

export function createRetentionService({ prisma, now = () => new Date(), batchSize = DEFAULT_RETENTION_BATCH }: RetentionServiceDeps) {
  const processId = `${hostname()}:${process.pid}`;

  return {
    /**
     * Erases every selfie and raw envelope past its org's window (one org with `orgId`). Waits up to
     * `waitForLeaseMs` for a sweep running elsewhere, then refuses (SweepBusyError). `shouldStop` is asked
     * between batches (shutdown).
     */
    async sweep(opts: { orgId?: string; waitForLeaseMs?: number; shouldStop?: () => boolean } = {}): Promise<SweepResult> {
      if (opts.orgId !== undefined && !(await orgsDal.findById(prisma, opts.orgId))) throw new NotFoundError("org");
      const holder = `${processId}:${ulid()}`;
      const deadline = Date.now() + (opts.waitForLeaseMs ?? 0);
      while (!(await leaseDal.acquire(prisma, RETENTION_LEASE, holder, RETENTION_LEASE_TTL_MS))) {
        if (Date.now() >= deadline || opts.shouldStop?.()) throw new SweepBusyError((await leaseDal.holderOf(prisma, RETENTION_LEASE))?.holder);
        await sleep(250);
      }

      const result: SweepResult = { erased: { selfies: 0, raw: 0 }, complete: true, orgs: [] };
      try {
        const at = now();
        const before = (days: number) => new Date(at.getTime() - days * DAY_MS);
        const orgs = await orgsDal.withRetention(prisma, opts.orgId);
        sweep: for (const org of orgs) {
          const done: OrgSweep = { orgId: org.id, selfies: 0, raw: 0, recordId: null };
          const steps: [keyof SweepCounts, number | null, (cutoff: Date) => Promise<number>][] = [
            ["selfies", org.retainSelfiesDays, (cutoff) => erasureDal.eraseOrgSelfiesBefore(prisma, org.id, cutoff, at, batchSize)],
            ["raw", org.retainRawDays, (cutoff) => erasureDal.eraseOrgRawBefore(prisma, org.id, cutoff, at, batchSize)],
          ];
          let stopped = false;
          for (const [kind, days, step] of steps) {
            if (days === null) continue;
            const cutoff = before(days);
            for (;;) {
              if (opts.shouldStop?.()) {
                stopped = true;
                break;
              }
              const n = await step(cutoff);
              done[kind] += n;
              if (n < batchSize) break;
              if (!(await leaseDal.renew(prisma, RETENTION_LEASE, holder, RETENTION_LEASE_TTL_MS))) {
                stopped = true; // expired and taken over: the other holder carries on, and counts its own
                break;
              }
            }
            if (stopped) break;
          }
          if (done.selfies + done.raw > 0) {
            done.recordId = newErasureId();
            await erasureDal.record(prisma, {
              id: done.recordId,
              orgId: org.id,
              customerId: null,
              trigger: "retention",
              actor: RETENTION_ACTOR,
              reason: windowsReason(org.retainRawDays, org.retainSelfiesDays),
              photos: 0,
              templates: 0,
              selfies: done.selfies,
              raw: done.raw,
              createdAt: at,
            });
          }
          result.orgs.push(done);
          result.erased.selfies += done.selfies;
          result.erased.raw += done.raw;
          if (stopped) {
            result.complete = false;
            break sweep;
          }
        }
      } finally {
        await leaseDal.release(prisma, RETENTION_LEASE, holder).catch(() => {}); // else it expires on its own
      }
      return result;
    },
  };
}
export type RetentionService = ReturnType<typeof createRetentionService>;
