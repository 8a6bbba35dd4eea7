// The Dukcapil verdict ingest: validate, seal, then record everything in one transaction.
import { inTransaction } from "../../db/transaction.js";
import type { DbClient, PrismaClient } from "../../db/types.js";
import type { Sealer } from "../../crypto/seal.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import type { FaceTemplater } from "../../face/engine.js";
import { preparePhoto } from "../../face/prepare.js";
import { newId } from "../../ids.js";
import { createObservers } from "../../observers.js";
import { customersDal } from "../customers/customers-dal.js";
import { enrolmentsDal } from "../enrolments/enrolments-dal.js";
import { applyTierStep } from "../kyc/tier-step.js";
import { verificationsDal } from "../verifications/verifications-dal.js";
import type { DukcapilRecorded, DukcapilVerdictInput, DukcapilVerdictResult } from "./dukcapil-types.js";

const DUKCAPIL_SCORE = 100;

export interface DukcapilServiceDeps {
  prisma: PrismaClient;
  sealer: Sealer;
  face: FaceTemplater;
  now?: () => Date;
}

export function createDukcapilService({ prisma, sealer, face, now = () => new Date() }: DukcapilServiceDeps) {
  const recorded = createObservers<DukcapilRecorded>();
  return {
    /** Called after each verdict commits (metrics count them); returns the unsubscribe function. */
    onRecorded: recorded.subscribe,

    /**
     * `alsoInTransaction` runs last inside the verdict's transaction with the result (the idempotency layer
     * stores the response there, so a verdict is never committed without its replayable response).
     */
    async ingest(
      input: DukcapilVerdictInput,
      { alsoInTransaction }: { alsoInTransaction?: (tx: DbClient, result: DukcapilVerdictResult) => Promise<void> } = {},
    ): Promise<DukcapilVerdictResult> {
      // Cheap tenancy check before any photo work; re-checked under the row lock below.
      if (!(await customersDal.findInOrg(prisma, input.orgId, input.customerId))) throw new NotFoundError("customer");

      const verificationId = newId.verification();
      const enrolmentId = newId.faceEnrolment();

      // Everything slow happens before the transaction opens, so no row lock waits on sharp or the engine.
      let enrolment: Parameters<typeof enrolmentsDal.create>[1] | undefined;
      if (input.valid) {
        if (input.photo === undefined) throw new ValidationError("photo is required when valid is true", { photo: ["required when valid is true"] });
        const { photo, template } = await preparePhoto(face, input.photo, "enrolment");
        enrolment = {
          id: enrolmentId,
          orgId: input.orgId,
          customerId: input.customerId,
          verificationId,
          source: "dukcapil",
          photoSealed: new Uint8Array(sealer.seal(photo.bytes, { purpose: "face_enrolment.photo", rowId: enrolmentId })),
          mediaType: photo.mediaType,
          width: photo.width,
          height: photo.height,
          fallbackStub: !template.ok,
          fallbackCause: template.ok ? null : template.cause,
          templateSealed: template.ok
            ? new Uint8Array(sealer.seal(template.template, { purpose: "face_enrolment.template", rowId: enrolmentId }))
            : null,
          templateModel: template.ok ? template.model : null,
          createdAt: new Date(0), // set inside the transaction
        };
      }
      const rawSealed =
        input.rawText === undefined
          ? null
          : new Uint8Array(sealer.seal(Buffer.from(input.rawText, "utf8"), { purpose: "verification.raw", rowId: verificationId }));

      // Run again by inTransaction after a serialization failure or deadlock: everything above is computed once,
      // everything below writes through `tx` only (the idempotent response included).
      const committed = await inTransaction(prisma, async (tx) => {
        const customer = await customersDal.lockInOrg(tx, input.orgId, input.customerId);
        if (!customer) throw new NotFoundError("customer");
        const at = now();
        const status = input.valid ? "verified" : "failed";
        await verificationsDal.create(tx, {
          id: verificationId,
          orgId: input.orgId,
          customerId: input.customerId,
          method: "nik_dukcapil",
          status,
          score: input.valid ? DUKCAPIL_SCORE : null,
          reason: input.reason ?? null,
          rawSealed,
          apiKeyId: input.apiKeyId,
          requestId: input.requestId,
          createdAt: at,
        });

        let enrolled: DukcapilVerdictResult["enrolment"] = null;
        if (enrolment) {
          const row = await enrolmentsDal.create(tx, { ...enrolment, createdAt: at });
          await enrolmentsDal.supersedeCurrent(tx, input.customerId, "dukcapil", row.id, at);
          enrolled = { id: row.id, source: "dukcapil", fallbackStub: row.fallbackStub };
        }

        await applyTierStep(tx, { orgId: input.orgId, customer, trigger: { id: verificationId, method: "nik_dukcapil", status }, at });

        const result: DukcapilVerdictResult = {
          verification: input.valid
            ? { id: verificationId, status: "verified", score: DUKCAPIL_SCORE }
            : { id: verificationId, status: "failed" },
          enrolment: enrolled,
        };
        await alsoInTransaction?.(tx, result);
        return result;
      });
      const event: DukcapilRecorded = {
        status: committed.verification.status,
        enrolment: enrolment ? { source: "dukcapil", fallbackStub: enrolment.fallbackStub, fallbackCause: enrolment.fallbackCause } : null,
      };
      recorded.notify(event);
      return committed;
    },
  };
}
export type DukcapilService = ReturnType<typeof createDukcapilService>;
