// The face match (face-match.md): a live selfie against the customer's best current face reference.
//
// Everything slow happens before the transaction opens, as in the ingest: the selfie goes through the
// ingest's photo rules and the face engine (preparePhoto), the reference is chosen and, when its template is
// a stub or another model's, re-templated from its sealed photo. The transaction then writes the
// verification with its evidence, the sealed selfie, the re-made reference template and the tier step, or
// nothing at all: every refusal (400/404/409/422/503) happens before it.
import { inTransaction } from "../../db/transaction.js";
import type { DbClient, PrismaClient } from "../../db/types.js";
import type { Sealer } from "../../crypto/seal.js";
import { ConflictError, NotFoundError, ServiceUnavailableError, UnprocessableError } from "../../errors.js";
import type { FaceTemplater, FallbackCause } from "../../face/engine.js";
import { DEFAULT_FACE_MATCH_THRESHOLD, matchScore } from "../../face/match-policy.js";
import { preparePhoto } from "../../face/prepare.js";
import { newId } from "../../ids.js";
import { createObservers } from "../../observers.js";
import { customersDal } from "../customers/customers-dal.js";
import { ENROLMENT_SOURCES, enrolmentsDal, type EnrolmentSource } from "../enrolments/enrolments-dal.js";
import { applyTierStep } from "../kyc/tier-step.js";
import { orgsDal } from "../orgs/orgs-dal.js";
import { verificationsDal } from "../verifications/verifications-dal.js";
import { faceMatchSelfiesDal } from "./face-match-dal.js";
import type { FaceMatchInput, FaceMatchRecorded, FaceMatchResult } from "./face-match-types.js";

/** Engine failures: our side is down, not the caller's photo. */
const ENGINE_DOWN: ReadonlySet<FallbackCause> = new Set(["engine_off", "engine_error", "timeout"]);
const ENGINE_RETRY_AFTER_S = 5;

export class FaceEngineUnavailableError extends ServiceUnavailableError {
  constructor(cause: FallbackCause) {
    super(`face engine unavailable (${cause}); retry later`, "face_engine_unavailable", ENGINE_RETRY_AFTER_S);
  }
}

const SELFIE_REFUSALS: Partial<Record<FallbackCause, () => UnprocessableError>> = {
  no_face: () => new UnprocessableError("no face found in the photo", "no_face"),
  multiple_faces: () => new UnprocessableError("several faces of comparable size in the photo: whose is it?", "multiple_faces"),
};

const noFaceReference = () => new ConflictError("the customer has no current face reference that yields a template", "no_face_reference");

interface ChosenReference {
  id: string;
  source: EnrolmentSource;
  template: Buffer;
  /** Set when the template was made for this match: stored back on the enrolment in the transaction. */
  remade?: { templateSealed: Uint8Array<ArrayBuffer>; was: string | null };
}

export interface FaceMatchServiceDeps {
  prisma: PrismaClient;
  sealer: Sealer;
  face: FaceTemplater;
  now?: () => Date;
}

export function createFaceMatchService({ prisma, sealer, face, now = () => new Date() }: FaceMatchServiceDeps) {
  const recorded = createObservers<FaceMatchRecorded>();

  /**
   * The first current enrolment (not superseded, not erased: an erased one has no photo to re-template), in
   * source preference order (newest first within a source), that yields a template under the running model.
   * Stale or stub templates are re-made from the sealed photo; a photo with no usable face passes the turn to
   * the next candidate, an engine failure stops the match (a lesser reference must never stand in for the
   * registry's photo because our engine hiccuped).
   */
  async function chooseReference(orgId: string, customerId: string, model: string): Promise<ChosenReference | undefined> {
    const candidates = await enrolmentsDal.currentOf(prisma, orgId, customerId);
    candidates.sort((a, b) => ENROLMENT_SOURCES.indexOf(a.source) - ENROLMENT_SOURCES.indexOf(b.source)); // stable: newest first stays
    for (const c of candidates) {
      const templateCtx = { purpose: "face_enrolment.template" as const, rowId: c.id };
      if (!c.fallbackStub && c.templateModel === model && c.templateSealed) {
        return { id: c.id, source: c.source, template: sealer.open(c.templateSealed, templateCtx) };
      }
      const row = await enrolmentsDal.sealedPhoto(prisma, c.id);
      if (!row) continue;
      const made = await face.template(sealer.open(row.photoSealed, { purpose: "face_enrolment.photo", rowId: c.id }), { priority: "match" });
      if (!made.ok) {
        if (ENGINE_DOWN.has(made.cause)) throw new FaceEngineUnavailableError(made.cause);
        continue; // no usable face in this reference: try the next one
      }
      const templateSealed = new Uint8Array(sealer.seal(made.template, templateCtx));
      return { id: c.id, source: c.source, template: made.template, remade: { templateSealed, was: c.templateModel } };
    }
    return undefined;
  }

  return {
    /** Called after each match commits (metrics count them); returns the unsubscribe function. */
    onRecorded: recorded.subscribe,

    /** `alsoInTransaction` runs last inside the match's transaction (the idempotent response is stored there). */
    async match(
      input: FaceMatchInput,
      { alsoInTransaction }: { alsoInTransaction?: (tx: DbClient, result: FaceMatchResult) => Promise<void> } = {},
    ): Promise<FaceMatchResult> {
      // Cheap tenancy check before any photo work; re-checked under the row lock below.
      if (!(await customersDal.findInOrg(prisma, input.orgId, input.customerId))) throw new NotFoundError("customer");

      const { photo, template: selfie } = await preparePhoto(face, input.photo, "match");
      if (!selfie.ok) throw SELFIE_REFUSALS[selfie.cause]?.() ?? new FaceEngineUnavailableError(selfie.cause);

      const reference = await chooseReference(input.orgId, input.customerId, selfie.model);
      if (!reference) throw noFaceReference();

      const org = await orgsDal.findById(prisma, input.orgId);
      const threshold = org?.faceMatchThreshold ?? DEFAULT_FACE_MATCH_THRESHOLD;
      const score = matchScore(selfie.template, reference.template);
      const status = score >= threshold ? "verified" : "failed";

      const verificationId = newId.verification();
      const selfieSealed = new Uint8Array(sealer.seal(photo.bytes, { purpose: "face_match.selfie", rowId: verificationId }));

      // Run again by inTransaction after a serialization failure or deadlock: only writes through `tx` below.
      const committed = await inTransaction(prisma, async (tx) => {
        const customer = await customersDal.lockInOrg(tx, input.orgId, input.customerId);
        if (!customer) throw new NotFoundError("customer");
        // An erasure takes the same lock: a reference erased since it was chosen must not get a selfie compared
        // with it on record after the erasure has cleared the customer's selfies.
        if (!(await enrolmentsDal.isLive(tx, reference.id))) throw noFaceReference();
        const at = now();
        await verificationsDal.create(tx, {
          id: verificationId,
          orgId: input.orgId,
          customerId: input.customerId,
          method: "face_match",
          status,
          score,
          reason: null,
          rawSealed: null,
          apiKeyId: input.apiKeyId,
          requestId: input.requestId,
          createdAt: at,
          referenceEnrolmentId: reference.id,
          matchModel: selfie.model,
          matchThreshold: threshold,
        });
        await faceMatchSelfiesDal.create(tx, {
          verificationId,
          orgId: input.orgId,
          customerId: input.customerId,
          selfieSealed,
          mediaType: photo.mediaType,
          width: photo.width,
          height: photo.height,
          createdAt: at,
        });
        // Unless another writer re-templated it meanwhile (then theirs stays; this comparison stands).
        if (reference.remade) {
          await enrolmentsDal.setTemplate(tx, reference.id, reference.remade.was, { templateSealed: reference.remade.templateSealed, templateModel: selfie.model });
        }
        await applyTierStep(tx, { orgId: input.orgId, customer, trigger: { id: verificationId, method: "face_match", status }, at });

        const result: FaceMatchResult = {
          verification: { id: verificationId, status, score },
          reference: { id: reference.id, source: reference.source },
          threshold,
          model: selfie.model,
        };
        await alsoInTransaction?.(tx, result);
        return result;
      });
      recorded.notify({ status, source: reference.source, referenceRetemplated: reference.remade !== undefined });
      return committed;
    },
  };
}
export type FaceMatchService = ReturnType<typeof createFaceMatchService>;
