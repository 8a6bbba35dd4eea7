import type { DbClient } from "../../db/types.js";

export const faceMatchSelfiesDal = {
  create(
    db: DbClient,
    data: {
      verificationId: string;
      orgId: string;
      customerId: string;
      selfieSealed: Uint8Array<ArrayBuffer>;
      mediaType: string;
      width: number;
      height: number;
      createdAt: Date;
    },
  ) {
    return db.faceMatchSelfie.create({ data, select: { verificationId: true } });
  },
};
