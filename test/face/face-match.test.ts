// POST /api/identity/face/match with the real face engine, on a real database, through HTTP. The engine loads
// once for this file: keep new cases in here rather than in new files.
import { setBPhoto, setMPhoto } from "./eval-set.js";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faceEngineOff } from "../../src/face/engine.js";
import { DEFAULT_FACE_MATCH_THRESHOLD } from "../../src/face/match-policy.js";
import { FACE_TEMPLATE_MODEL_ID as FACE_MODEL_ID } from "../../src/face/pipeline.js";
import { startFaceTemplateEngine as startFaceEngine, type FaceTemplateEngine as StartedFaceEngine } from "../../src/face/template-engine.js";
import { tierFromHistory, tierRank, type Tier } from "../../src/kyc/tier.js";
import { enrolmentsDal, type EnrolmentSource } from "../../src/modules/enrolments/enrolments-dal.js";
import { createTestContext, type Tenant, type TestContext } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";
import { gradient, group } from "./photos.js";

const MATCH = "/api/identity/face/match";
const INGEST = "/api/identity/nik/dukcapil";
let engine: StartedFaceEngine;
let ctx: TestContext;
let bank: Tenant;
let other: Tenant;
// Different photos of one man taken years apart (eval set B) and another man (set M): the bench shows these
// pairs far on their side of the default threshold.
let manA: Buffer;
let manB: Buffer;
let stranger: Buffer;

beforeAll(async () => {
  engine = startFaceEngine({ workers: 1, timeoutMs: 20_000 });
  ctx = await createTestContext({ face: engine });
  const limits = { "identity.nik.dukcapil": 10_000, "identity.face.match": 10_000, "identity.kyc.read": 10_000, "identity.attempts.list": 10_000 };
  bank = await ctx.tenant({ limits });
  other = await ctx.tenant({ limits });
  [manA, manB, stranger] = await Promise.all([setBPhoto("r1c01"), setBPhoto("r1c02"), setMPhoto("r2c05"), engine.ready]);
});
afterAll(async () => {
  await ctx?.close();
  await engine?.close();
});

const match = (t: Tenant, customerId: string, photo: Buffer | string, headers: Record<string, string> = {}) =>
  t.post(MATCH, { customerId, photo: typeof photo === "string" ? photo : b64(photo) }, headers);

async function customerWithReference(t: Tenant, photo: Buffer): Promise<{ customerId: string; enrolmentId: string }> {
  const customerId = await t.customer();
  const res = await t.post(INGEST, { customerId, valid: true, photo: b64(photo) });
  expect(res.statusCode).toBe(201);
  expect(res.json().enrolment.fallbackStub).toBe(false);
  return { customerId, enrolmentId: res.json().enrolment.id };
}

/** Every row a refused match must leave as it was. */
async function snapshot() {
  const p = ctx.prisma;
  return {
    verifications: await p.verification.count(),
    selfies: await p.faceMatchSelfie.count(),
    tierEvents: await p.tierEvent.count(),
    enrolments: (await p.faceEnrolment.findMany({ orderBy: { id: "asc" } })).map((e) => [e.id, e.fallbackStub, e.fallbackCause, e.templateModel, Buffer.from(e.templateSealed ?? []).toString("hex")]),
    customers: (await p.customer.findMany({ orderBy: { id: "asc" } })).map((c) => [c.id, c.kycTier, c.kycLastVerifiedAt?.getTime()]),
  };
}

/** An enrolment written through the data layer, as another source (or an older engine) would have. */
async function seedEnrolment(t: Tenant, customerId: string, source: EnrolmentSource, photo: Buffer, template?: { model: string; bytes: Buffer }) {
  const id = `fe_${randomBytes(13).toString("hex").toUpperCase().slice(0, 26)}`;
  const at = new Date();
  await enrolmentsDal.create(ctx.prisma, {
    id,
    orgId: t.orgId,
    customerId,
    verificationId: null,
    source,
    photoSealed: new Uint8Array(ctx.sealer.seal(photo, { purpose: "face_enrolment.photo", rowId: id })),
    mediaType: "image/jpeg",
    width: 256,
    height: 256,
    fallbackStub: !template,
    fallbackCause: template ? null : "engine_off",
    templateSealed: template ? new Uint8Array(ctx.sealer.seal(template.bytes, { purpose: "face_enrolment.template", rowId: id })) : null,
    templateModel: template?.model ?? null,
    createdAt: at,
  });
  await enrolmentsDal.supersedeCurrent(ctx.prisma, customerId, source, id, at);
  return id;
}

describe("POST /api/identity/face/match", () => {
  it("a different photo of the same person: verified, evidence recorded, the customer becomes premium", async () => {
    const { customerId, enrolmentId } = await customerWithReference(bank, manA);
    const res = await match(bank, customerId, manB);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({
      verification: { id: expect.stringMatching(/^ver_[0-9A-Z]{26}$/), status: "verified", score: expect.any(Number) },
      reference: { id: enrolmentId, source: "dukcapil" },
      threshold: DEFAULT_FACE_MATCH_THRESHOLD,
      model: FACE_MODEL_ID,
    });
    expect(body.verification.score).toBeGreaterThanOrEqual(DEFAULT_FACE_MATCH_THRESHOLD);
    expect(body.verification.score).toBeLessThanOrEqual(100);
    expect(res.body).not.toContain(b64(manB).slice(0, 60));

    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: body.verification.id } });
    expect(ver).toMatchObject({
      method: "face_match",
      status: "verified",
      score: body.verification.score,
      rawSealed: null,
      apiKeyId: bank.keyId,
      requestId: res.headers["x-request-id"],
      referenceEnrolmentId: enrolmentId,
      matchModel: FACE_MODEL_ID,
      matchThreshold: DEFAULT_FACE_MATCH_THRESHOLD,
    });
    // the selfie is sealed at rest, bound to this verification and to its purpose
    const selfie = await ctx.prisma.faceMatchSelfie.findUniqueOrThrow({ where: { verificationId: ver.id } });
    expect(selfie).toMatchObject({ orgId: bank.orgId, customerId, mediaType: "image/jpeg" });
    expect(Buffer.from(selfie.selfieSealed!).includes(manB.subarray(100, 160))).toBe(false);
    expect(ctx.sealer.open(selfie.selfieSealed!, { purpose: "face_match.selfie", rowId: ver.id }).equals(manB)).toBe(true);
    expect(() => ctx.sealer.open(selfie.selfieSealed!, { purpose: "face_enrolment.photo", rowId: ver.id })).toThrow();

    // tier: standard (the verdict) → premium (the match), one event each, written with the verification
    const customer = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
    expect(customer.kycTier).toBe("premium");
    expect(customer.kycLastVerifiedAt?.getTime()).toBe(ver.createdAt.getTime());
    const events = await ctx.prisma.tierEvent.findMany({ where: { customerId }, orderBy: { createdAt: "asc" } });
    expect(events.map((e) => [e.fromTier, e.toTier])).toEqual([["none", "standard"], ["standard", "premium"]]);
    expect(events[1]).toMatchObject({ verificationId: ver.id, reason: "face_match verified: tier premium" });

    // the read side: the KYC detail and the attempts listing
    const kyc = (await ctx.app.inject({ method: "GET", url: `/api/identity/kyc/${customerId}`, headers: bank.auth })).json();
    expect(kyc.customer.kycLevel).toBe("premium");
    expect(kyc.eligible).toBe("premium");
    expect(kyc.verifications[0]).toMatchObject({ id: ver.id, method: "face_match", status: "verified", score: body.verification.score, reason: null });
    expect(kyc.references).toEqual([
      { id: enrolmentId, source: "dukcapil", fallbackStub: false, fallbackCause: null, model: FACE_MODEL_ID, createdAt: expect.any(String), supersededAt: null, erasedAt: null },
    ]);
    const listed = (await ctx.app.inject({ method: "GET", url: `/api/identity/attempts?method=face_match&customerId=${customerId}`, headers: bank.auth })).json();
    expect(listed.data).toEqual([expect.objectContaining({ id: ver.id, method: "face_match", status: "verified", apiKey: { id: bank.keyId, prefix: expect.any(String) } })]);
  });

  it("another person: failed, and nothing else changes (no tier event, tier stays standard)", async () => {
    const { customerId } = await customerWithReference(bank, manA);
    const before = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
    const res = await match(bank, customerId, stranger);
    expect(res.statusCode).toBe(201);
    expect(res.json().verification).toMatchObject({ status: "failed" });
    expect(res.json().verification.score).toBeLessThan(DEFAULT_FACE_MATCH_THRESHOLD);
    const after = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
    expect(after).toMatchObject({ kycTier: "standard", kycLastVerifiedAt: before.kycLastVerifiedAt });
    expect(await ctx.prisma.tierEvent.count({ where: { customerId } })).toBe(1);
    expect(await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } })).toMatchObject({ status: "failed" });
  });

  it("a verified match before any document verdict leaves the tier at none; the later verdict makes it premium at once", async () => {
    const customerId = await bank.customer();
    await seedEnrolment(bank, customerId, "onboarding_selfie", manA);
    const res = await match(bank, customerId, manB);
    expect(res.json().verification.status).toBe("verified");
    expect((await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).kycTier).toBe("none");
    expect((await bank.post(INGEST, { customerId, valid: true, photo: b64(manA) })).statusCode).toBe(201);
    expect((await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).kycTier).toBe("premium");
  });

  it("an org's own threshold is applied and recorded", async () => {
    const strict = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000, "identity.face.match": 10_000 } });
    await ctx.services.orgs.update(strict.orgId, { faceMatchThreshold: 100 });
    const { customerId } = await customerWithReference(strict, manA);
    const res = await match(strict, customerId, manB);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ threshold: 100, verification: { status: "failed" } });
    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } });
    expect(ver.matchThreshold).toBe(100);
  });
});

describe("which reference", () => {
  it("prefers dukcapil over every other source, whatever their age", async () => {
    const customerId = await bank.customer();
    const ktp = await seedEnrolment(bank, customerId, "ktp_extract", stranger);
    const { enrolmentId } = await (async () => {
      const r = await bank.post(INGEST, { customerId, valid: true, photo: b64(manA) });
      return { enrolmentId: r.json().enrolment.id as string };
    })();
    await seedEnrolment(bank, customerId, "onboarding_selfie", stranger); // newer than the dukcapil one
    const res = await match(bank, customerId, manB);
    expect(res.json()).toMatchObject({ reference: { id: enrolmentId, source: "dukcapil" }, verification: { status: "verified" } });
    expect(ktp).not.toBe(enrolmentId);
  });

  it("without dukcapil: ktp_extract, then onboarding_selfie, then step_up_promotion", async () => {
    const customerId = await bank.customer();
    await seedEnrolment(bank, customerId, "step_up_promotion", stranger);
    const selfieRef = await seedEnrolment(bank, customerId, "onboarding_selfie", manA);
    expect((await match(bank, customerId, manB)).json().reference).toEqual({ id: selfieRef, source: "onboarding_selfie" });
    const ktp = await seedEnrolment(bank, customerId, "ktp_extract", manA);
    expect((await match(bank, customerId, manB)).json().reference).toEqual({ id: ktp, source: "ktp_extract" });
  });

  it("a stub reference is re-templated from its sealed photo and stops being a stub; the next match reuses it", async () => {
    const customerId = await bank.customer();
    const id = await seedEnrolment(bank, customerId, "dukcapil", manA); // a stub (engine was off)
    const res = await match(bank, customerId, manB);
    expect(res.json()).toMatchObject({ reference: { id, source: "dukcapil" }, verification: { status: "verified" } });
    const row = await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ fallbackStub: false, fallbackCause: null, templateModel: FACE_MODEL_ID });
    const template = ctx.sealer.open(row.templateSealed!, { purpose: "face_enrolment.template", rowId: id });
    expect(template.length).toBeGreaterThan(0);
    // the next match uses the stored template: the row is untouched
    expect((await match(bank, customerId, manB)).statusCode).toBe(201);
    const again = await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id } });
    expect(Buffer.from(again.templateSealed!).equals(Buffer.from(row.templateSealed!))).toBe(true);
  });

  it("another model's template is replaced by the running model's, stored back on the enrolment", async () => {
    const customerId = await bank.customer();
    const id = await seedEnrolment(bank, customerId, "dukcapil", manA, { model: "human-3.3.6/faceres", bytes: randomBytes(4096) });
    const res = await match(bank, customerId, manB);
    expect(res.json()).toMatchObject({ reference: { id }, model: FACE_MODEL_ID, verification: { status: "verified" } });
    expect(await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id } })).toMatchObject({ templateModel: FACE_MODEL_ID, fallbackStub: false });
  });

  it("a preferred reference with no usable face passes to the next source; the stub keeps its cause", async () => {
    const customerId = await bank.customer();
    const faceless = await seedEnrolment(bank, customerId, "dukcapil", await gradient(256, 256));
    const ktp = await seedEnrolment(bank, customerId, "ktp_extract", manA);
    const before = await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id: faceless } });
    expect((await match(bank, customerId, manB)).json().reference).toEqual({ id: ktp, source: "ktp_extract" });
    expect(await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id: faceless } })).toEqual(before);
  });

  it("superseded enrolments are never used", async () => {
    const customerId = await bank.customer();
    await seedEnrolment(bank, customerId, "dukcapil", manA);
    const newer = await seedEnrolment(bank, customerId, "dukcapil", stranger); // supersedes the first
    const res = await match(bank, customerId, manB);
    expect(res.json()).toMatchObject({ reference: { id: newer }, verification: { status: "failed" } });
  });
});

describe("refusals write nothing", () => {
  const refused = async (send: () => Promise<{ statusCode: number; json(): { code: string; error: string } }>, status: number, code: string) => {
    const before = await snapshot();
    const res = await send();
    expect(res.statusCode).toBe(status);
    expect(res.json().code).toBe(code);
    expect(await snapshot()).toEqual(before);
    return res;
  };

  it("400 for a body or a photo the ingest would refuse", async () => {
    const { customerId } = await customerWithReference(bank, manA);
    await refused(() => bank.post(MATCH, { photo: b64(manB) }), 400, "validation_failed");
    await refused(() => bank.post(MATCH, { customerId: "not a cuid", photo: b64(manB) }), 400, "validation_failed");
    await refused(() => bank.post(MATCH, { customerId, photo: b64(manB), extra: 1 }), 400, "validation_failed");
    await refused(() => match(bank, customerId, "not base64!"), 400, "validation_failed");
    await refused(() => match(bank, customerId, `data:image/jpeg;base64,${b64(manB)}`), 400, "validation_failed");
    await refused(() => match(bank, customerId, Buffer.from("GIF89a not an image at all")), 400, "validation_failed");
    await refused(() => match(bank, customerId, manB.subarray(0, manB.length - 200)), 400, "validation_failed");
    const tiny = await jpeg(40, 40);
    const res = await refused(() => match(bank, customerId, tiny), 400, "validation_failed");
    expect(res.json()).toMatchObject({ details: { fieldErrors: { photo: [expect.stringMatching(/between 64 and 4096/)] } } });
  });

  it("413 over the photo cap, 415 for another content type", async () => {
    const { customerId } = await customerWithReference(bank, manA);
    await refused(() => match(bank, customerId, Buffer.alloc(5 * 1024 * 1024 + 3, 0xff)), 413, "payload_too_large");
    await refused(() => bank.post(MATCH, "x".repeat(9 * 1024 * 1024)), 413, "payload_too_large");
    await refused(
      () => ctx.app.inject({ method: "POST", url: MATCH, headers: { ...bank.auth, "content-type": "text/plain" }, payload: "hello" }),
      415,
      "unsupported_media_type",
    );
  });

  it("404 for an unknown customer and for another org's customer, indistinguishably", async () => {
    const { customerId } = await customerWithReference(other, manA);
    const theirs = await refused(() => match(bank, customerId, manB), 404, "not_found");
    const unknown = await refused(() => match(bank, "cnotacustomer0000000000000", manB), 404, "not_found");
    expect(theirs.json().error).toBe(unknown.json().error);
    expect(unknown.json().error).toBe("customer not found");
  });

  it("tenancy, each half on its own: the pre-check refuses before any photo work; the locked query refuses a customer moved meanwhile", async () => {
    const { customerId: theirs } = await customerWithReference(other, manA);
    // pre-check: a photo the rules would refuse is not even looked at for another org's customer
    await refused(() => match(bank, theirs, Buffer.from("not an image at all")), 404, "not_found");
    // the lock: the customer stops being the caller's while the selfie is templated (after the pre-check)
    let during = async () => {};
    const racing = await createTestContext({ face: { ...engine, template: async (p, o) => (await during(), engine.template(p, o)) } });
    try {
      const mine = await racing.tenant();
      const elsewhere = await racing.tenant();
      const moved = await mine.customer();
      expect((await mine.post(INGEST, { customerId: moved, valid: true, photo: b64(manA) })).statusCode).toBe(201);
      during = async () => {
        await racing.prisma.customer.update({ where: { id: moved }, data: { orgId: elsewhere.orgId } });
      };
      const res = await mine.post(MATCH, { customerId: moved, photo: b64(manB) });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: "customer not found", code: "not_found" });
      expect(await racing.prisma.verification.count({ where: { method: "face_match" } })).toBe(0);
      expect(await racing.prisma.faceMatchSelfie.count()).toBe(0);
    } finally {
      await racing.close();
    }
  });

  it("409 no_face_reference: no enrolment at all, or none that yields a template", async () => {
    const bare = await bank.customer();
    await refused(() => match(bank, bare, manB), 409, "no_face_reference");
    const customerId = await bank.customer();
    await seedEnrolment(bank, customerId, "dukcapil", await gradient(256, 256));
    await refused(() => match(bank, customerId, manB), 409, "no_face_reference");
  });

  it("422 no_face / multiple_faces for the selfie", async () => {
    const { customerId } = await customerWithReference(bank, manA);
    const none = await refused(async () => match(bank, customerId, await gradient()), 422, "no_face");
    const several = await refused(async () => match(bank, customerId, await group()), 422, "multiple_faces");
    // the error says what to fix in the selfie
    expect(none.json().error).toBe("no face found in the photo");
    expect(several.json().error).toBe("several faces of comparable size in the photo: whose is it?");
  });

  it("503 face_engine_unavailable with Retry-After when the engine is off or out of time", async () => {
    const { customerId } = await customerWithReference(bank, manA);
    const off = await createTestContext({ face: faceEngineOff });
    try {
      const t = await off.tenant();
      const c = await t.customer();
      expect((await t.post(INGEST, { customerId: c, valid: true, photo: b64(manA) })).statusCode).toBe(201);
      const res = await t.post(MATCH, { customerId: c, photo: b64(manB) });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: "face_engine_unavailable" });
      expect(res.headers["retry-after"]).toBe("5");
      expect(await off.prisma.verification.count({ where: { method: "face_match" } })).toBe(0);
    } finally {
      await off.close();
    }
    // an engine whose budget is shorter than its start-up: the selfie times out
    const slow = startFaceEngine({ workers: 1, timeoutMs: 30 });
    const slowCtx = await createTestContext({ face: slow });
    try {
      const t = await slowCtx.tenant();
      const c = await t.customer();
      const res = await t.post(MATCH, { customerId: c, photo: b64(manB) });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("5");
    } finally {
      await slowCtx.close();
      await slow.close();
    }
    void customerId;
  });

  it("401 without a key, 403 without verifications:view, 429 over the bucket (identity.face.match)", async () => {
    const { customerId } = await customerWithReference(bank, manA);
    await refused(() => ctx.app.inject({ method: "POST", url: MATCH, headers: { "content-type": "application/json" }, payload: { customerId, photo: b64(manB) } }), 401, "unauthorized");
    const noScope = await ctx.tenant({ scopes: ["customers:view"] });
    await refused(() => match(noScope, customerId, manB), 403, "missing_scope");
    const tight = await ctx.tenant({ limits: { "identity.face.match": 1 } });
    const mine = await tight.customer();
    expect((await match(tight, mine, manB)).statusCode).toBe(409); // counted, refused by the business rule
    const limited = await refused(() => match(tight, mine, manB), 429, "rate_limited");
    expect(limited.json()).toMatchObject({ bucket: "identity.face.match", limit: 1 });
  });
});

describe("Idempotency-Key", () => {
  it("a retry replays the first answer byte for byte and records nothing more", async () => {
    const { customerId } = await customerWithReference(bank, manA);
    const key = `match-${randomBytes(6).toString("hex")}`;
    const first = await match(bank, customerId, manB, { "idempotency-key": key });
    expect(first.statusCode).toBe(201);
    const before = await snapshot();
    const again = await match(bank, customerId, manB, { "idempotency-key": key });
    expect(again.statusCode).toBe(201);
    expect(again.body).toBe(first.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(await snapshot()).toEqual(before);
    const reused = await match(bank, customerId, stranger, { "idempotency-key": key });
    expect(reused.statusCode).toBe(409);
    expect(reused.json().code).toBe("idempotency_key_reused");
  });
});

describe("tiers across verdicts and matches", () => {
  it("after random sequences of verdicts and matches, the stored tier is the recomputed one and never dropped", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom("verdict", "declined", "genuine", "impostor"), { minLength: 1, maxLength: 6 }), async (steps) => {
        const customerId = await bank.customer();
        let seen: Tier = "none";
        let referenced = false;
        for (const step of steps) {
          if (step === "verdict") {
            expect((await bank.post(INGEST, { customerId, valid: true, photo: b64(manA) })).statusCode).toBe(201);
            referenced = true;
          } else if (step === "declined") {
            expect((await bank.post(INGEST, { customerId, valid: false, reason: "no match" })).statusCode).toBe(201);
          } else {
            const res = await match(bank, customerId, step === "genuine" ? manB : stranger);
            expect(res.statusCode).toBe(referenced ? 201 : 409);
          }
          const stored = (await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).kycTier;
          expect(tierRank(stored)).toBeGreaterThanOrEqual(tierRank(seen));
          seen = stored;
        }
        const history = await ctx.prisma.verification.findMany({ where: { customerId }, select: { method: true, status: true } });
        expect(seen).toBe(tierFromHistory(history));
      }),
      { numRuns: 12 },
    );
  });
});
