// Forensic access to raw registry envelopes (admin CLI only: the API never returns raw). Every access is
// recorded, with who and why, before the envelope is opened; an access without a reason is refused.
import { monotonicFactory } from "ulid";
import type { PrismaClient } from "../../db/types.js";
import type { Sealer } from "../../crypto/seal.js";
import { GoneError, NotFoundError, UnprocessableError, ValidationError } from "../../errors.js";
import { auditDal } from "./audit-dal.js";

const ulid = monotonicFactory();
export const AUDIT_LIMITS = { reasonChars: 500, actorChars: 100, defaultList: 100, maxList: 10_000 } as const;

export interface AuditAccessView {
  id: string;
  orgId: string;
  verificationId: string;
  actor: string;
  reason: string;
  createdAt: string;
}

export function createAuditService({ prisma, sealer, now = () => new Date() }: { prisma: PrismaClient; sealer: Sealer; now?: () => Date }) {
  return {
    /** The raw envelope exactly as the bank sent it (its JSON text), after the access is on record. */
    async openRaw(input: { verificationId: string; actor: string; reason: string }): Promise<{ accessId: string; rawText: string }> {
      const reason = input.reason.trim();
      const actor = input.actor.trim();
      const fieldErrors: Record<string, string[]> = {};
      if (!reason) fieldErrors.reason = ["a reason is required for every access to a raw envelope"];
      else if (reason.length > AUDIT_LIMITS.reasonChars) fieldErrors.reason = [`must be at most ${AUDIT_LIMITS.reasonChars} characters`];
      if (!actor) fieldErrors.actor = ["is required"];
      else if (actor.length > AUDIT_LIMITS.actorChars) fieldErrors.actor = [`must be at most ${AUDIT_LIMITS.actorChars} characters`];
      if (Object.keys(fieldErrors).length) throw new ValidationError("audit access refused", fieldErrors);

      const verification = await auditDal.verificationRaw(prisma, input.verificationId);
      if (!verification) throw new NotFoundError("verification");
      if (!verification.rawSealed && !verification.rawErasedAt) {
        throw new UnprocessableError(`verification ${verification.id} has no raw envelope on record`, "no_raw_envelope");
      }

      // Recorded (committed) first: if this write fails, nothing is shown. An attempt on an erased envelope is
      // recorded too (who looked for erased content, and why), then refused saying when it was erased.
      const access = await auditDal.recordAccess(prisma, {
        id: `aud_${ulid()}`,
        orgId: verification.orgId,
        verificationId: verification.id,
        actor,
        reason,
        createdAt: now(),
      });
      if (!verification.rawSealed) {
        throw new GoneError(`the raw envelope of verification ${verification.id} was erased at ${verification.rawErasedAt!.toISOString()}`, "raw_erased");
      }
      const rawText = sealer.open(verification.rawSealed, { purpose: "verification.raw", rowId: verification.id }).toString("utf8");
      return { accessId: access.id, rawText };
    },

    async log(opts: { verificationId?: string; limit?: number } = {}): Promise<{ data: AuditAccessView[]; truncated: boolean }> {
      const limit = opts.limit ?? AUDIT_LIMITS.defaultList;
      if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIMITS.maxList) {
        throw new ValidationError("invalid audit log request", { limit: [`must be a whole number from 1 to ${AUDIT_LIMITS.maxList}`] });
      }
      const rows = await auditDal.accesses(prisma, { verificationId: opts.verificationId, limit });
      return {
        data: rows.slice(0, limit).map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
        truncated: rows.length > limit,
      };
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
