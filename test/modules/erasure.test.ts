// The erasure service in this process, with small batches and a fixed clock (test/face/erasure.test.ts erases
// real templates and searches a dump; test/faults/erasure-crash.test.ts kills a run between batches): who and
// why at their bounds, what each batch erased in order, the counts on record, the log's limits and order,
// the totals the metrics read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../src/ids.js";
import { enrolmentsDal } from "../../src/modules/enrolments/enrolments-dal.js";
import { createErasureService, ERASURE_LIMITS } from "../../src/modules/erasure/erasure-service.js";
import type { ErasureProgress } from "../../src/modules/erasure/erasure-types.js";
import { faceMatchSelfiesDal } from "../../src/modules/face-match/face-match-dal.js";
import { verificationsDal } from "../../src/modules/verifications/verifications-dal.js";
import { createTestContext, type Tenant, type TestContext } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;
let photo: string;
beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000 } });
  photo = b64(await jpeg(200, 240));
});
afterAll(() => ctx.close());

const T0 = new Date("2026-06-01T08:00:00.000Z");
let tick = 0;
const erasure = ({ now, ...opts }: { batchSize?: number; afterBatch?: (p: ErasureProgress) => Promise<void>; now?: Date } = {}) =>
  createErasureService({ prisma: ctx.prisma, now: () => now ?? new Date(T0.getTime() + tick++ * 1000), ...opts });

/** Three verified verdicts (enrolments with photos; one given a template), a declined one: four raw envelopes; two selfies. */
async function seed(): Promise<string> {
  const customerId = await bank.customer();
  for (const valid of [true, true, true, false]) {
    const res = await bank.post(INGEST, valid ? { customerId, valid, photo, raw: { n: Math.random() } } : { customerId, valid, reason: "NOT_FOUND", raw: { n: 1 } });
    expect(res.statusCode, res.body).toBe(201);
  }
  const [first] = await ctx.prisma.faceEnrolment.findMany({ where: { customerId }, orderBy: { id: "asc" } });
  expect(await enrolmentsDal.setTemplate(ctx.prisma, first!.id, first!.templateModel, { templateSealed: new Uint8Array(64), templateModel: "test/1" })).toBe(1);
  for (let i = 0; i < 2; i++) {
    const id = newId.verification();
    await verificationsDal.create(ctx.prisma, {
      ...{ id, orgId: bank.orgId, customerId, method: "face_match", status: "failed", score: 3, reason: null, rawSealed: null },
      ...{ apiKeyId: bank.keyId, requestId: null, createdAt: new Date(), referenceEnrolmentId: first!.id, matchModel: "test/1", matchThreshold: 40 },
    });
    const selfieSealed = new Uint8Array(ctx.sealer.seal(Buffer.from(`selfie ${id}`), { purpose: "face_match.selfie", rowId: id }));
    await faceMatchSelfiesDal.create(ctx.prisma, { verificationId: id, orgId: bank.orgId, customerId, selfieSealed, mediaType: "image/jpeg", width: 64, height: 64, createdAt: new Date() });
  }
  return customerId;
}

const left = async (customerId: string) => ({
  photos: await ctx.prisma.faceEnrolment.count({ where: { customerId, photoSealed: { not: null } } }),
  templates: await ctx.prisma.faceEnrolment.count({ where: { customerId, templateSealed: { not: null } } }),
  selfies: await ctx.prisma.faceMatchSelfie.count({ where: { customerId, selfieSealed: { not: null } } }),
  raw: await ctx.prisma.verification.count({ where: { customerId, rawSealed: { not: null } } }),
});

describe("erasing a customer", () => {
  it("batch by batch: enrolments, then selfies, then raw envelopes; the counts on record are what the run erased", async () => {
    const customerId = await seed();
    const other = await seed();
    expect(await left(customerId)).toEqual({ photos: 3, templates: 1, selfies: 2, raw: 4 });
    const progress: ErasureProgress[] = [];
    const seen: unknown[] = [];
    const at = new Date(T0.getTime() + 5000);
    const out = await erasure({
      batchSize: 2,
      now: at,
      afterBatch: async (p) => {
        progress.push(p);
        seen.push(await left(customerId)); // committed: visible from outside the batch
      },
    }).eraseCustomer({ customerId, actor: "  dpo.bank-a ", reason: "  UU PDP request #1  " });

    expect(out).toEqual({ customerId, erasedAt: at.toISOString(), erased: { photos: 3, templates: 1, selfies: 2, raw: 4 } });
    expect(progress).toEqual([
      { customerId, batch: 1, erased: { photos: 2, templates: 1, selfies: 0, raw: 0 } },
      { customerId, batch: 2, erased: { photos: 3, templates: 1, selfies: 0, raw: 0 } },
      { customerId, batch: 3, erased: { photos: 3, templates: 1, selfies: 2, raw: 0 } },
      { customerId, batch: 4, erased: { photos: 3, templates: 1, selfies: 2, raw: 2 } },
      { customerId, batch: 5, erased: { photos: 3, templates: 1, selfies: 2, raw: 4 } },
    ]);
    expect(seen).toEqual([
      { photos: 1, templates: 0, selfies: 2, raw: 4 },
      { photos: 0, templates: 0, selfies: 2, raw: 4 },
      { photos: 0, templates: 0, selfies: 0, raw: 4 },
      { photos: 0, templates: 0, selfies: 0, raw: 2 },
      { photos: 0, templates: 0, selfies: 0, raw: 0 },
    ]);
    expect(await left(other)).toEqual({ photos: 3, templates: 1, selfies: 2, raw: 4 });
    // every erased row carries the run's time
    expect(await ctx.prisma.faceEnrolment.findMany({ where: { customerId }, select: { erasedAt: true } })).toEqual(Array(3).fill({ erasedAt: at }));
    expect(await ctx.prisma.faceMatchSelfie.findMany({ where: { customerId }, select: { erasedAt: true } })).toEqual(Array(2).fill({ erasedAt: at }));
    expect(await ctx.prisma.verification.count({ where: { customerId, rawErasedAt: at } })).toBe(4);

    const log = await erasure().log({ customerId });
    expect(log).toEqual({
      data: [{ id: expect.stringMatching(/^era_[0-9A-Z]{26}$/), orgId: bank.orgId, customerId, actor: "dpo.bank-a", reason: "UU PDP request #1", createdAt: at.toISOString(), erased: out.erased }],
      truncated: false,
    });
    const row = await ctx.prisma.erasureRecord.findUniqueOrThrow({ where: { id: log.data[0]!.id } });
    expect(row.trigger).toBe("request");

    // nothing left: one more run erases nothing, commits no batch, and is on record with zeros
    progress.length = 0;
    const again = await erasure({ batchSize: 2, now: new Date(at.getTime() + 1000), afterBatch: async (p) => void progress.push(p) }).eraseCustomer({ customerId, actor: "dpo", reason: "again" });
    expect(again.erased).toEqual({ photos: 0, templates: 0, selfies: 0, raw: 0 });
    expect(progress).toEqual([]);
    expect((await erasure().log({ customerId })).data.map((r) => r.reason)).toEqual(["again", "UU PDP request #1"]);
  });

  it("who and why: trimmed, required, at most 500 and 100 characters, no NUL; a refusal erases nothing and records nothing", async () => {
    const customerId = await seed();
    const before = [await left(customerId), await ctx.prisma.erasureRecord.count()];
    const reasonError = { reason: ["must be at most 500 characters, no NUL"] };
    const actorError = { actor: ["must be at most 100 characters, no NUL"] };
    for (const [input, fieldErrors] of [
      [{ reason: "", actor: "a" }, { reason: ["a reason is required for every erasure"] }],
      [{ reason: " \n\t ", actor: "a" }, { reason: ["a reason is required for every erasure"] }],
      [{ reason: "r".repeat(501), actor: "a" }, reasonError],
      [{ reason: "case\u00001", actor: "a" }, reasonError],
      [{ reason: "r", actor: "   " }, { actor: ["is required"] }],
      [{ reason: "r", actor: "a".repeat(101) }, actorError],
      [{ reason: "r", actor: "dpo\u0000" }, actorError],
      [{ reason: "", actor: "" }, { reason: ["a reason is required for every erasure"], actor: ["is required"] }],
    ] as const) {
      await expect(erasure().eraseCustomer({ customerId, ...input }), JSON.stringify(input)).rejects.toMatchObject({
        statusCode: 400,
        code: "validation_failed",
        message: "erasure refused",
        fieldErrors,
      });
    }
    await expect(erasure().eraseCustomer({ customerId: "cus_unknown", reason: "r", actor: "a" })).rejects.toMatchObject({ statusCode: 404, message: "customer not found" });
    expect([await left(customerId), await ctx.prisma.erasureRecord.count()]).toEqual(before);

    const out = await erasure().eraseCustomer({ customerId, reason: ` ${"r".repeat(500)} `, actor: "a".repeat(100) });
    expect(out.erased).toEqual({ photos: 3, templates: 1, selfies: 2, raw: 4 });
    expect((await erasure().log({ customerId, limit: 1 })).data[0]).toMatchObject({ reason: "r".repeat(500), actor: "a".repeat(100) });
  });
});

describe("the erasure log", () => {
  it("newest first, at most `limit` (default 100), saying when it was cut; limits outside 1 to 10000 are refused", async () => {
    const customerId = await bank.customer();
    const times = Array.from({ length: 102 }, (_, i) => new Date(T0.getTime() + 86_400_000 + i * 1000));
    for (const now of times) await erasure({ now }).eraseCustomer({ customerId, reason: `request ${now.getTime()}`, actor: "dpo" });
    const newestFirst = times.map((t) => t.toISOString()).reverse();

    const all = await erasure().log({ customerId });
    expect(all.data.map((r) => r.createdAt)).toEqual(newestFirst.slice(0, 100));
    expect(all.truncated).toBe(true);
    expect((await erasure().log({ customerId, limit: 102 })).truncated).toBe(false);
    expect((await erasure().log({ customerId, limit: 102 })).data).toHaveLength(102);
    const one = await erasure().log({ customerId, limit: 1 });
    expect([one.data.map((r) => r.createdAt), one.truncated]).toEqual([[newestFirst[0]], true]);
    expect((await erasure().log({ customerId, limit: ERASURE_LIMITS.maxList })).data).toHaveLength(102);
    // without a customer: every org's records, newest first (these are the newest on record)
    expect((await erasure().log({ limit: 3 })).data.map((r) => r.createdAt)).toEqual(newestFirst.slice(0, 3));
    for (const limit of [0, -1, 1.5, 10_001, Number.NaN]) {
      await expect(erasure().log({ limit })).rejects.toMatchObject({
        statusCode: 400,
        message: "invalid erasure log request",
        fieldErrors: { limit: ["must be a whole number from 1 to 10000"] },
      });
    }
  });

  it("totals: what every record removed, summed by trigger", async () => {
    const before = await erasure().totals();
    const sum = (rows: typeof before, trigger: string) => rows.find((r) => r.trigger === trigger) ?? { trigger, photos: 0, templates: 0, selfies: 0, raw: 0 };
    const customerId = await seed();
    await erasure().eraseCustomer({ customerId, reason: "r", actor: "a" });
    const after = await erasure().totals();
    const was = sum(before, "request");
    expect(sum(after, "request")).toEqual({ trigger: "request", photos: was.photos + 3, templates: was.templates + 1, selfies: was.selfies + 2, raw: was.raw + 4 });
    expect(sum(after, "retention")).toEqual(sum(before, "retention"));
  });
});
