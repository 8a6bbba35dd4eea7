import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";
import { newId } from "../../src/ids.js";
import { runAdminCommand } from "../../src/cli/commands.js";

const INGEST = "/api/identity/nik/dukcapil";
const kycUrl = (customerId: string) => `/api/identity/kyc/${customerId}`;
let ctx: TestContext;
let bank: Tenant;
let photo: string;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 100_000, "identity.kyc.read": 100_000 } });
  photo = b64(await jpeg(200, 240));
});
afterAll(() => ctx.close());

const get = (t: Tenant, url: string) => ctx.app.inject({ method: "GET", url, headers: t.auth });

describe("GET /api/identity/kyc/{customerId}", () => {
  it("a new customer: tier none, nothing on record", async () => {
    const customerId = await bank.customer();
    const res = await get(bank, kycUrl(customerId));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      customer: { id: customerId, kycLevel: "none", kycLastVerifiedAt: null },
      eligible: "none",
      verifications: [],
      history: [],
      references: [],
    });
  });

  it("returns exactly the conventions' shape: verifications newest first with a declined verdict's reason, and the tier history", async () => {
    const customerId = await bank.customer();
    const declined = (await bank.post(INGEST, { customerId, valid: false, reason: "NIK not found in central registry" })).json();
    const verified = (await bank.post(INGEST, { customerId, valid: true, photo, raw: { nik: "3171", marker: "RAW-SECRET" } })).json();
    const res = await get(bank, kycUrl(customerId));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(["customer", "eligible", "history", "references", "verifications"]);

    const rows = await ctx.prisma.verification.findMany({ where: { customerId }, orderBy: { createdAt: "desc" } });
    const event = await ctx.prisma.tierEvent.findFirstOrThrow({ where: { customerId } });
    const enrolment = await ctx.prisma.faceEnrolment.findFirstOrThrow({ where: { customerId } });
    expect(body).toEqual({
      customer: { id: customerId, kycLevel: "standard", kycLastVerifiedAt: rows[0]!.createdAt.toISOString() },
      eligible: "standard",
      verifications: [
        { id: verified.verification.id, method: "nik_dukcapil", status: "verified", score: 100, reason: null, createdAt: rows[0]!.createdAt.toISOString() },
        {
          id: declined.verification.id,
          method: "nik_dukcapil",
          status: "failed",
          score: null,
          reason: "NIK not found in central registry",
          createdAt: rows[1]!.createdAt.toISOString(),
        },
      ],
      history: [{ id: event.id, fromTier: "none", toTier: "standard", reason: event.reason, createdAt: event.createdAt.toISOString() }],
      // the engine is off in this file: the reference is a stub
      references: [
        {
          id: verified.enrolment.id,
          source: "dukcapil",
          fallbackStub: true,
          fallbackCause: "engine_off",
          model: null,
          createdAt: enrolment.createdAt.toISOString(),
          supersededAt: null,
          erasedAt: null,
        },
      ],
    });
    // never the raw envelope or the photo
    expect(res.body).not.toContain("RAW-SECRET");
    expect(res.body).not.toContain(photo.slice(0, 40));
  });

  it("after an erasure: every verification and tier change still listed, unchanged; the references say when they were erased", async () => {
    const customerId = await bank.customer();
    await bank.post(INGEST, { customerId, valid: false, reason: "NIK not found in central registry", raw: { nik: "3171" } });
    const verified = (await bank.post(INGEST, { customerId, valid: true, photo, raw: { nik: "3171", marker: "RAW-SECRET" } })).json();
    const before = (await get(bank, kycUrl(customerId))).json();
    const out = (await runAdminCommand(ctx.services, ["customer", "erase", "--customer", customerId, "--reason", "data subject request 17", "--actor", "dpo"])) as {
      erasedAt: string;
    };
    const res = await get(bank, kycUrl(customerId));
    expect(res.statusCode).toBe(200);
    const after = res.json();
    expect(after).toEqual({ ...before, references: before.references.map((r: object) => ({ ...r, erasedAt: out.erasedAt })) });
    expect(after.references).toEqual([expect.objectContaining({ id: verified.enrolment.id, erasedAt: out.erasedAt, supersededAt: null })]);

    // a new verdict enrols a new reference normally; the erased one is superseded and stays erased
    const again = (await bank.post(INGEST, { customerId, valid: true, photo })).json();
    const refs = (await get(bank, kycUrl(customerId))).json().references;
    expect(refs).toEqual([
      expect.objectContaining({ id: again.enrolment.id, erasedAt: null, supersededAt: null }),
      expect.objectContaining({ id: verified.enrolment.id, erasedAt: out.erasedAt, supersededAt: expect.any(String) }),
    ]);
  });

  it("orders verifications newest first even within one millisecond (id breaks the tie)", async () => {
    const customerId = await bank.customer();
    const at = new Date("2026-01-02T03:04:05.678Z");
    const ids = [newId.verification(), newId.verification(), newId.verification()];
    for (const id of ids) {
      await ctx.prisma.verification.create({ data: { id, orgId: bank.orgId, customerId, method: "nik_format", status: "failed", createdAt: at } });
    }
    const body = (await get(bank, kycUrl(customerId))).json();
    expect(body.verifications.map((v: { id: string }) => v.id)).toEqual([...ids].reverse());
  });

  it("404 for an unknown customer and for another org's customer, in the same words", async () => {
    const other = await ctx.tenant();
    const theirs = await other.customer();
    await other.post(INGEST, { customerId: theirs, valid: false, reason: "theirs" });
    const unknown = await get(bank, kycUrl("cjld2cjxh0000qzrmn831i7rn"));
    const foreign = await get(bank, kycUrl(theirs));
    expect(unknown.statusCode).toBe(404);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ error: "customer not found", code: "not_found" });
    expect(foreign.json().error).toBe(unknown.json().error);
    expect(foreign.body).not.toContain("theirs");
    // the owner does see it
    expect((await get(other, kycUrl(theirs))).statusCode).toBe(200);
  });

  it("400 with field errors for an id that is not a CUID", async () => {
    const res = await get(bank, kycUrl("NOT-A-CUID"));
    expect(res.statusCode).toBe(400);
    expect(res.json().details.fieldErrors).toHaveProperty("customerId");
  });

  it("401 without a key, 403 without customers:view", async () => {
    const customerId = await bank.customer();
    const anon = await ctx.app.inject({ method: "GET", url: kycUrl(customerId) });
    expect(anon.statusCode).toBe(401);
    expect(anon.json()).toMatchObject({ error: "missing or invalid Bearer" });
    const narrow = await ctx.tenant({ scopes: ["verifications:view"] });
    const res = await get(narrow, kycUrl(await narrow.customer()));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: "missing scope: customers:view" });
  });

  it("is limited in its own bucket, identity.kyc.read", async () => {
    const limited = await ctx.tenant({ limits: { "identity.kyc.read": 2 } });
    const customerId = await limited.customer();
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await get(limited, kycUrl(customerId))).statusCode);
    expect(codes).toEqual([200, 200, 429]);
    const res = await get(limited, kycUrl(customerId));
    expect(res.json()).toMatchObject({ error: "rate limit exceeded", bucket: "identity.kyc.read", limit: 2 });
  });
});

describe("eligible never drifts from the stored tier", () => {
  // Expected tiers are worked out here from the conventions, not with the service's own rule.
  function expectedTier(prior: { faceMatch: boolean; nikFormat: boolean }, verdicts: boolean[]): string {
    if (verdicts.some(Boolean)) return prior.faceMatch ? "premium" : "standard";
    return prior.nikFormat ? "basic" : "none";
  }

  it("after random sequences of verified and declined verdicts, posted one by one and concurrently", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          faceMatch: fc.boolean(),
          nikFormat: fc.boolean(),
          verdicts: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
          concurrent: fc.boolean(),
        }),
        async ({ faceMatch, nikFormat, verdicts, concurrent }) => {
          const customerId = await bank.customer();
          // Facts from methods this service does not ingest yet, on record before the first verdict.
          if (faceMatch) {
            await ctx.prisma.verification.create({ data: { id: newId.verification(), orgId: bank.orgId, customerId, method: "face_match", status: "verified", score: 91 } });
          }
          if (nikFormat) {
            await ctx.prisma.verification.create({ data: { id: newId.verification(), orgId: bank.orgId, customerId, method: "nik_format", status: "verified", score: 100 } });
          }
          const post = (valid: boolean) => bank.post(INGEST, valid ? { customerId, valid, photo } : { customerId, valid, reason: "declined by registry" });
          const codes = concurrent ? (await Promise.all(verdicts.map(post))).map((r) => r.statusCode) : [];
          if (!concurrent) for (const v of verdicts) codes.push((await post(v)).statusCode);
          expect(codes.every((c) => c === 201)).toBe(true);

          const body = (await get(bank, kycUrl(customerId))).json();
          const stored = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
          const want = expectedTier({ faceMatch, nikFormat }, verdicts);
          expect(body.eligible).toBe(want);
          expect(body.customer.kycLevel).toBe(want);
          expect(stored.kycTier).toBe(want);
          expect(body.verifications).toHaveLength(verdicts.length + Number(faceMatch) + Number(nikFormat));
          // history ends at the stored tier and never goes down
          const order = ["none", "basic", "standard", "premium"];
          const tiers = body.history.map((h: { fromTier: string; toTier: string }) => [order.indexOf(h.fromTier), order.indexOf(h.toTier)]);
          for (const [from, to] of tiers) expect(to).toBeGreaterThan(from);
          expect(body.history.at(-1)?.toTier ?? "none").toBe(want);
        },
      ),
      { numRuns: 25 },
    );
  });
});
