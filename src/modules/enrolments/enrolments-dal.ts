import type { DbClient } from "../../db/types.js";

/** Enrolment sources, in the order a face match prefers them as its reference (the registry's photo first). */
export const ENROLMENT_SOURCES = ["dukcapil", "ktp_extract", "onboarding_selfie", "step_up_promotion"] as const;
export type EnrolmentSource = (typeof ENROLMENT_SOURCES)[number];

export const enrolmentsDal = {
  create(
    db: DbClient,
    data: {
      id: string;
      orgId: string;
      customerId: string;
      /** The verification that brought the photo (null for sources enrolled outside this service). */
      verificationId: string | null;
      source: EnrolmentSource;
      photoSealed: Uint8Array<ArrayBuffer>;
      mediaType: string;
      width: number;
      height: number;
      fallbackStub: boolean;
      fallbackCause: string | null;
      templateSealed: Uint8Array<ArrayBuffer> | null;
      templateModel: string | null;
      createdAt: Date;
    },
  ) {
    return db.faceEnrolment.create({ data, select: { id: true, source: true, fallbackStub: true } });
  },
  /** Marks the customer's current enrolments of `source` (other than `byId`) as superseded by `byId`. */
  supersedeCurrent(db: DbClient, customerId: string, source: EnrolmentSource, byId: string, at: Date) {
    return db.faceEnrolment.updateMany({
      where: { customerId, source, supersededAt: null, id: { not: byId } },
      data: { supersededById: byId, supersededAt: at },
    });
  },
  /**
   * One keyset page (id order, after `afterId`) of enrolments that need a template from `model`: none yet
   * (stubs), or one made by another model. Ids and state only; photos are read one at a time.
   */
  pageNeedingTemplate(db: DbClient, q: { model: string; orgId?: string; stubsOnly: boolean; afterId?: string; take: number }) {
    return db.faceEnrolment.findMany({
      where: {
        ...(q.orgId ? { orgId: q.orgId } : {}),
        ...(q.afterId ? { id: { gt: q.afterId } } : {}),
        erasedAt: null, // an erased enrolment has no photo to make a template from
        // `not: model` alone would skip NULLs (SQL comparison): name them explicitly.
        ...(q.stubsOnly ? { fallbackStub: true } : { OR: [{ templateModel: null }, { templateModel: { not: q.model } }] }),
      },
      orderBy: { id: "asc" },
      take: q.take,
      select: { id: true, templateModel: true },
    });
  },
  /**
   * The customer's current (not superseded) enrolments: the candidates for a face match's reference. Tenancy
   * is part of the lookup. Sealed template included (it is opened only by the matching service).
   */
  currentOf(db: DbClient, orgId: string, customerId: string) {
    return db.faceEnrolment.findMany({
      where: { orgId, customerId, supersededAt: null, erasedAt: null },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { id: true, source: true, fallbackStub: true, templateModel: true, templateSealed: true },
    });
  },
  /** The sealed photo of an enrolment not erased; null when there is none (erased, or no such enrolment). */
  async sealedPhoto(db: DbClient, id: string): Promise<{ photoSealed: Uint8Array } | null> {
    const row = await db.faceEnrolment.findFirst({ where: { id, erasedAt: null }, select: { photoSealed: true } });
    return row?.photoSealed ? { photoSealed: row.photoSealed } : null;
  },
  /** True while the enrolment's photo and template are there (not erased). Read under the customer's lock. */
  async isLive(db: DbClient, id: string): Promise<boolean> {
    return (await db.faceEnrolment.count({ where: { id, erasedAt: null } })) === 1;
  },
  /** Stores a new template, unless the enrolment's template changed since it was read (returns the count). */
  async setTemplate(db: DbClient, id: string, was: string | null, data: { templateSealed: Uint8Array<ArrayBuffer>; templateModel: string }) {
    const { count } = await db.faceEnrolment.updateMany({
      where: { id, templateModel: was, erasedAt: null },
      data: { ...data, fallbackStub: false, fallbackCause: null },
    });
    return count;
  },
  /** Records why a stub is still a stub (an enrolment that has a template keeps it). */
  setStubCause(db: DbClient, id: string, cause: string) {
    return db.faceEnrolment.updateMany({ where: { id, fallbackStub: true, erasedAt: null }, data: { fallbackCause: cause } });
  },
};
