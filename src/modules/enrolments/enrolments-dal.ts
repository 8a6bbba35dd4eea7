import type { DbClient } from "../../db/types.js";

export type EnrolmentSource = "dukcapil" | "ktp_extract" | "onboarding_selfie" | "step_up_promotion";

export const enrolmentsDal = {
  create(
    db: DbClient,
    data: {
      id: string;
      orgId: string;
      customerId: string;
      verificationId: string;
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
};
