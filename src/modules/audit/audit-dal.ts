import type { DbClient } from "../../db/types.js";

export interface AuditAccessRow {
  id: string;
  orgId: string;
  verificationId: string;
  actor: string;
  reason: string;
  createdAt: Date;
}

export const auditDal = {
  /** The verification whose raw envelope is asked for (any org: the admin CLI is operated by the platform). */
  verificationRaw(db: DbClient, verificationId: string) {
    return db.verification.findUnique({ where: { id: verificationId }, select: { id: true, orgId: true, rawSealed: true, rawErasedAt: true } });
  },
  recordAccess(db: DbClient, data: AuditAccessRow) {
    return db.auditAccess.create({ data });
  },
  /** Newest first; one more than `limit` so the caller can tell the list was cut. */
  accesses(db: DbClient, opts: { verificationId?: string; limit: number }): Promise<AuditAccessRow[]> {
    return db.auditAccess.findMany({
      where: opts.verificationId ? { verificationId: opts.verificationId } : {},
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: opts.limit + 1,
    });
  },
};
