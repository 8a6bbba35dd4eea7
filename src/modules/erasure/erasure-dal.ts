// Data access for erasure: batches that clear sealed content (each one a short statement or transaction of its
// own), and the immutable erasure log. Every batch selects only rows that still hold content, so running it
// again after a stop finds exactly what is left.
import type { DbClient } from "../../db/types.js";
import type { ErasureCounts, ErasureTrigger } from "./erasure-types.js";

const ts = (d: Date) => d.toISOString();

export interface ErasureRecordRow extends ErasureCounts {
  id: string;
  orgId: string;
  customerId: string | null;
  trigger: ErasureTrigger;
  actor: string;
  reason: string;
  createdAt: Date;
}

export const erasureDal = {
  /** The customer to erase (any org: the admin CLI is operated by the platform). */
  customer(db: DbClient, id: string) {
    return db.customer.findUnique({ where: { id }, select: { id: true, orgId: true } });
  },

  /**
   * Up to `limit` of the customer's enrolments not yet erased, locked, with what they hold: photo and template
   * are cleared together, so an enrolment is either whole or erased, never half of each.
   */
  async eraseEnrolmentBatch(tx: DbClient, customerId: string, at: Date, limit: number): Promise<{ rows: number; photos: number; templates: number }> {
    const rows = await tx.$queryRaw<{ id: string; has_photo: boolean; has_template: boolean }[]>`
      SELECT id, photo_sealed IS NOT NULL AS has_photo, template_sealed IS NOT NULL AS has_template
      FROM face_enrolments WHERE customer_id = ${customerId} AND erased_at IS NULL
      ORDER BY id LIMIT ${limit} FOR UPDATE`;
    if (rows.length === 0) return { rows: 0, photos: 0, templates: 0 };
    await tx.faceEnrolment.updateMany({
      where: { id: { in: rows.map((r) => r.id) }, erasedAt: null },
      data: { photoSealed: null, templateSealed: null, erasedAt: at },
    });
    return { rows: rows.length, photos: rows.filter((r) => r.has_photo).length, templates: rows.filter((r) => r.has_template).length };
  },

  /** Clears up to `limit` of the customer's face-match selfies; returns how many. */
  eraseCustomerSelfies(db: DbClient, customerId: string, at: Date, limit: number): Promise<number> {
    return db.$executeRaw`
      UPDATE face_match_selfies SET selfie_sealed = NULL, erased_at = ${ts(at)}::timestamptz
      WHERE selfie_sealed IS NOT NULL AND verification_id IN (
        SELECT verification_id FROM face_match_selfies WHERE customer_id = ${customerId} AND selfie_sealed IS NOT NULL
        ORDER BY verification_id LIMIT ${limit} FOR UPDATE)`;
  },

  /** Clears up to `limit` of the customer's raw envelopes (the one change the verifications trigger allows besides rotation). */
  eraseCustomerRaw(db: DbClient, customerId: string, at: Date, limit: number): Promise<number> {
    return db.$executeRaw`
      UPDATE verifications SET raw_sealed = NULL, raw_erased_at = ${ts(at)}::timestamptz
      WHERE raw_sealed IS NOT NULL AND id IN (
        SELECT id FROM verifications WHERE customer_id = ${customerId} AND raw_sealed IS NOT NULL
        ORDER BY id LIMIT ${limit} FOR UPDATE)`;
  },

  /**
   * Clears up to `limit` of an org's selfies taken before `cutoff`, oldest first (the (org_id, created_at)
   * index); returns how many.
   */
  eraseOrgSelfiesBefore(db: DbClient, orgId: string, cutoff: Date, at: Date, limit: number): Promise<number> {
    return db.$executeRaw`
      UPDATE face_match_selfies SET selfie_sealed = NULL, erased_at = ${ts(at)}::timestamptz
      WHERE selfie_sealed IS NOT NULL AND verification_id IN (
        SELECT verification_id FROM face_match_selfies
        WHERE org_id = ${orgId} AND created_at < ${ts(cutoff)}::timestamptz AND selfie_sealed IS NOT NULL
        ORDER BY created_at, verification_id LIMIT ${limit} FOR UPDATE)`;
  },

  /** As eraseOrgSelfiesBefore, for raw envelopes of verifications recorded before `cutoff`. */
  eraseOrgRawBefore(db: DbClient, orgId: string, cutoff: Date, at: Date, limit: number): Promise<number> {
    return db.$executeRaw`
      UPDATE verifications SET raw_sealed = NULL, raw_erased_at = ${ts(at)}::timestamptz
      WHERE raw_sealed IS NOT NULL AND id IN (
        SELECT id FROM verifications
        WHERE org_id = ${orgId} AND created_at < ${ts(cutoff)}::timestamptz AND raw_sealed IS NOT NULL
        ORDER BY created_at, id LIMIT ${limit} FOR UPDATE)`;
  },

  record(db: DbClient, data: ErasureRecordRow) {
    return db.erasureRecord.create({ data });
  },

  /** Newest first; one more than `limit` so the caller can tell the list was cut. */
  records(db: DbClient, opts: { customerId?: string; limit: number }): Promise<ErasureRecordRow[]> {
    return db.erasureRecord.findMany({
      where: opts.customerId ? { customerId: opts.customerId } : {},
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: opts.limit + 1,
    }) as Promise<ErasureRecordRow[]>;
  },

  /** What every erasure on record removed, summed by trigger (the metrics read it at scrape time). */
  async totals(db: DbClient): Promise<({ trigger: ErasureTrigger } & ErasureCounts)[]> {
    const rows = await db.$queryRaw<{ trigger: ErasureTrigger; photos: bigint; templates: bigint; selfies: bigint; raw: bigint }[]>`
      SELECT trigger, sum(photos) AS photos, sum(templates) AS templates, sum(selfies) AS selfies, sum(raw) AS raw
      FROM erasure_records GROUP BY trigger`;
    return rows.map((r) => ({ trigger: r.trigger, photos: Number(r.photos), templates: Number(r.templates), selfies: Number(r.selfies), raw: Number(r.raw) }));
  },
};
