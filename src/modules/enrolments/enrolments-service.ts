// Face enrolments after the fact: re-templating the ones that have no template, or one from an older model.
import type { PrismaClient } from "../../db/types.js";
import type { Sealer } from "../../crypto/seal.js";
import { BadRequestError, NotFoundError } from "../../errors.js";
import type { FallbackCause, FaceTemplater } from "../../face/engine.js";
import { orgsDal } from "../orgs/orgs-dal.js";
import { enrolmentsDal } from "./enrolments-dal.js";

export interface RetemplateOptions {
  orgId?: string;
  /** Only fallback stubs; templates of older models are left alone. */
  stubsOnly?: boolean;
  /** Resume after this enrolment id (the `lastId` of an interrupted run). */
  afterId?: string;
  /** Stop after this many enrolments (the next run resumes from `lastId`). */
  limit?: number;
  batchSize?: number;
  onProgress?: (p: RetemplateProgress) => void;
}

export interface RetemplateProgress {
  scanned: number;
  templated: number;
  notTemplated: number;
  lastId: string | null;
}

export interface RetemplateSummary extends RetemplateProgress {
  model: string;
  /** Why enrolments got no new template (stubs stay stubs with this cause; older templates are kept). */
  causes: Partial<Record<FallbackCause | "unreadable_photo" | "changed_meanwhile", number>>;
  /** false when `limit` stopped the run before the last candidate: run again with `--after <lastId>`. */
  complete: boolean;
}

export interface EnrolmentsServiceDeps {
  prisma: PrismaClient;
  sealer: Sealer;
  face: FaceTemplater;
}

export function createEnrolmentsService({ prisma, sealer, face }: EnrolmentsServiceDeps) {
  return {
    /**
     * Computes templates for enrolments lacking one, or made by another model than the engine's. Keyset
     * pages over ids, so a run never revisits an enrolment and an interrupted run resumes from `lastId`
     * (or simply from the start: finished enrolments no longer match).
     */
    async retemplate(opts: RetemplateOptions = {}): Promise<RetemplateSummary> {
      const model = face.model;
      if (model === null) throw new BadRequestError("the face engine is off (FACE_ENGINE=off): nothing to make templates with", "face_engine_off");
      if (opts.orgId && !(await orgsDal.findById(prisma, opts.orgId))) throw new NotFoundError("org");
      const batchSize = opts.batchSize ?? 50;
      const limit = opts.limit ?? Number.POSITIVE_INFINITY;
      const summary: RetemplateSummary = { model, scanned: 0, templated: 0, notTemplated: 0, lastId: opts.afterId ?? null, causes: {}, complete: true };
      const count = (cause: keyof RetemplateSummary["causes"]) => {
        summary.causes[cause] = (summary.causes[cause] ?? 0) + 1;
      };

      const one = async ({ id, templateModel }: { id: string; templateModel: string | null }) => {
        const row = await enrolmentsDal.sealedPhoto(prisma, id);
        if (!row) return count("changed_meanwhile");
        let photo: Buffer;
        try {
          photo = sealer.open(row.photoSealed, { purpose: "face_enrolment.photo", rowId: id });
        } catch {
          summary.notTemplated++;
          return count("unreadable_photo"); // e.g. sealed under a key no longer in SEALING_KEYS
        }
        const result = await face.template(photo, { priority: "batch" });
        if (!result.ok) {
          summary.notTemplated++;
          count(result.cause);
          await enrolmentsDal.setStubCause(prisma, id, result.cause);
          return;
        }
        const templateSealed = new Uint8Array(sealer.seal(result.template, { purpose: "face_enrolment.template", rowId: id }));
        if (await enrolmentsDal.setTemplate(prisma, id, templateModel, { templateSealed, templateModel: result.model })) summary.templated++;
        else count("changed_meanwhile");
      };

      for (;;) {
        const take = Math.min(batchSize, limit - summary.scanned);
        if (take <= 0) {
          // stopped by the limit: complete only if nothing is left after the last one done
          const rest = await enrolmentsDal.pageNeedingTemplate(prisma, { model, orgId: opts.orgId, stubsOnly: !!opts.stubsOnly, afterId: summary.lastId ?? undefined, take: 1 });
          summary.complete = rest.length === 0;
          break;
        }
        const page = await enrolmentsDal.pageNeedingTemplate(prisma, {
          model,
          orgId: opts.orgId,
          stubsOnly: !!opts.stubsOnly,
          afterId: summary.lastId ?? undefined,
          take,
        });
        if (page.length === 0) break;
        // As many photos in flight as the engine has workers: enough to keep them busy, and live verdicts
        // sharing the engine never queue behind a whole batch.
        let next = 0;
        const lane = async () => {
          while (next < page.length) await one(page[next++]!);
        };
        await Promise.all(Array.from({ length: Math.max(1, face.capacity) }, lane));
        summary.scanned += page.length;
        summary.lastId = page.at(-1)!.id;
        opts.onProgress?.({ scanned: summary.scanned, templated: summary.templated, notTemplated: summary.notTemplated, lastId: summary.lastId });
        if (page.length < take) break;
      }
      return summary;
    },
  };
}
export type EnrolmentsService = ReturnType<typeof createEnrolmentsService>;
