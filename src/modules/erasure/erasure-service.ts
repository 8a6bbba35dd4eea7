// Erasure on request (README "Erasure and retention"): every sealed photo, template, selfie and raw envelope
// of one customer leaves the live database; the decision record (verifications, enrolment rows, tier, tier
// history, audit-access records) stays whole.
//
// One resumable operation: batches by id, each its own short transaction, enrolments first (once they are
// erased no new face match can start on them; a match already under way re-checks under the customer lock),
// then selfies, then raw envelopes. A batch clears whole rows only, so a run stopped anywhere (a crash, a
// kill) leaves every row either as it was or erased, and running it again finishes the rest. The erasure
// record is written when the run is complete, counting what that run erased: a crashed run leaves no record,
// the rerun that finishes its work writes one (the rows keep the time the crashed run erased them).
import { inTransaction } from "../../db/transaction.js";
import { monotonicFactory } from "ulid";
import type { PrismaClient } from "../../db/types.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { customersDal } from "../customers/customers-dal.js";
import { erasureDal, type ErasureRecordRow } from "./erasure-dal.js";
import { zeroCounts, type CustomerErasure, type ErasureCounts, type ErasureProgress, type ErasureRecordView } from "./erasure-types.js";

const ulid = monotonicFactory();
export const newErasureId = () => `era_${ulid()}`;

export const ERASURE_LIMITS = { reasonChars: 500, actorChars: 100, defaultList: 100, maxList: 10_000 } as const;
export const DEFAULT_ERASURE_BATCH = 50;

export interface ErasureServiceDeps {
  prisma: PrismaClient;
  now?: () => Date;
  batchSize?: number;
  /** Test hook (fault tests only, never set in production): runs after each committed batch. */
  afterBatch?: (progress: ErasureProgress) => Promise<void>;
}

/** Who and why, trimmed and bounded (the erasure record keeps them for good). */
export function checkWhoAndWhy(input: { actor: string; reason: string }): { actor: string; reason: string } {
  const reason = input.reason.trim();
  const actor = input.actor.trim();
  const fieldErrors: Record<string, string[]> = {};
  if (!reason) fieldErrors.reason = ["a reason is required for every erasure"];
  else if (reason.length > ERASURE_LIMITS.reasonChars || reason.includes("\0")) fieldErrors.reason = [`must be at most ${ERASURE_LIMITS.reasonChars} characters, no NUL`];
  if (!actor) fieldErrors.actor = ["is required"];
  else if (actor.length > ERASURE_LIMITS.actorChars || actor.includes("\0")) fieldErrors.actor = [`must be at most ${ERASURE_LIMITS.actorChars} characters, no NUL`];
  if (Object.keys(fieldErrors).length) throw new ValidationError("erasure refused", fieldErrors);
  return { actor, reason };
}

export function toRecordView(r: ErasureRecordRow): ErasureRecordView {
  return {
    id: r.id,
    orgId: r.orgId,
    customerId: r.customerId,
    actor: r.actor,
    reason: r.reason,
    createdAt: r.createdAt.toISOString(),
    erased: { photos: r.photos, templates: r.templates, selfies: r.selfies, raw: r.raw },
  };
}

export function createErasureService({ prisma, now = () => new Date(), batchSize = DEFAULT_ERASURE_BATCH, afterBatch }: ErasureServiceDeps) {
  return {
    async eraseCustomer(input: { customerId: string; actor: string; reason: string }): Promise<CustomerErasure> {
      const { actor, reason } = checkWhoAndWhy(input);
      const customer = await erasureDal.customer(prisma, input.customerId);
      if (!customer) throw new NotFoundError("customer");
      const at = now();
      const erased: ErasureCounts = zeroCounts();
      let batch = 0;
      const committed = async () => {
        batch++;
        await afterBatch?.({ customerId: customer.id, batch, erased: { ...erased } });
      };

      // Enrolments under the customer's row lock, the lock verdicts and matches take: a match that chose a
      // reference before this batch sees it erased when it commits, and refuses (409 no_face_reference).
      for (;;) {
        const done = await inTransaction(prisma, async (tx) => {
          await customersDal.lockInOrg(tx, customer.orgId, customer.id);
          return erasureDal.eraseEnrolmentBatch(tx, customer.id, at, batchSize);
        });
        if (done.rows === 0) break;
        erased.photos += done.photos;
        erased.templates += done.templates;
        await committed();
      }
      for (const [kind, step] of [
        ["selfies", () => erasureDal.eraseCustomerSelfies(prisma, customer.id, at, batchSize)],
        ["raw", () => erasureDal.eraseCustomerRaw(prisma, customer.id, at, batchSize)],
      ] as const) {
        for (;;) {
          const n = await step();
          if (n === 0) break;
          erased[kind] += n;
          await committed();
        }
      }

      // Complete: on record before success is reported.
      await erasureDal.record(prisma, { id: newErasureId(), orgId: customer.orgId, customerId: customer.id, trigger: "request", actor, reason, ...erased, createdAt: at });
      return { customerId: customer.id, erasedAt: at.toISOString(), erased };
    },

    async log(opts: { customerId?: string; limit?: number } = {}): Promise<{ data: ErasureRecordView[]; truncated: boolean }> {
      const limit = opts.limit ?? ERASURE_LIMITS.defaultList;
      if (!Number.isInteger(limit) || limit < 1 || limit > ERASURE_LIMITS.maxList) {
        throw new ValidationError("invalid erasure log request", { limit: [`must be a whole number from 1 to ${ERASURE_LIMITS.maxList}`] });
      }
      const rows = await erasureDal.records(prisma, { customerId: opts.customerId, limit });
      return { data: rows.slice(0, limit).map(toRecordView), truncated: rows.length > limit };
    },

    /** Everything erased on record, by trigger (metrics). */
    totals: () => erasureDal.totals(prisma),
  };
}
export type ErasureService = ReturnType<typeof createErasureService>;
