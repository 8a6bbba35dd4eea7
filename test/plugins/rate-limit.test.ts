// Rate limits per the conventions: per key, per bucket, per minute; X-RateLimit-* on every response of a
// limited route (Reset a Unix timestamp in seconds), Retry-After only on 429, the conventions' 429 body.
import type { LightMyRequestResponse } from "fastify";
import { createId } from "@paralleldrive/cuid2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

/** A cheap request through every hook: a verdict for a customer that does not exist (404, writes nothing). */
const verdict = (t: Tenant) => t.post(INGEST, { customerId: createId(), valid: false });

function rateHeaders(res: LightMyRequestResponse) {
  return {
    limit: Number(res.headers["x-ratelimit-limit"]),
    remaining: Number(res.headers["x-ratelimit-remaining"]),
    reset: Number(res.headers["x-ratelimit-reset"]),
    retryAfter: res.headers["retry-after"],
  };
}

function expectReset(res: LightMyRequestResponse, before: number) {
  const reset = res.headers["x-ratelimit-reset"];
  expect(reset).toMatch(/^\d{10}$/); // Unix seconds, not a delta or milliseconds
  const r = Number(reset);
  expect(r).toBeGreaterThanOrEqual(Math.floor(before / 1000));
  expect(r).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 60);
}

describe("identity.nik.dukcapil: 30 per minute per key by default", () => {
  it("30 pass with counting-down headers, the 31st is a 429 with the conventions' body and Retry-After", async () => {
    const bank = await ctx.tenant();
    const start = Date.now();
    for (let i = 1; i <= 30; i++) {
      const res = await verdict(bank);
      expect(res.statusCode, `request ${i}`).toBe(404);
      const h = rateHeaders(res);
      expect(h).toMatchObject({ limit: 30, remaining: 30 - i, retryAfter: undefined });
      expectReset(res, start);
    }
    const res = await verdict(bank);
    expect(res.statusCode).toBe(429);
    const body = res.json();
    expect(body).toMatchObject({ error: "rate limit exceeded", bucket: "identity.nik.dukcapil", limit: 30 });
    expect(body).toEqual({ error: "rate limit exceeded", bucket: "identity.nik.dukcapil", limit: 30, code: "rate_limited", requestId: res.headers["x-request-id"] });
    expect(rateHeaders(res)).toMatchObject({ limit: 30, remaining: 0 });
    expectReset(res, start);
    const retryAfter = Number(res.headers["retry-after"]);
    expect(String(res.headers["retry-after"])).toMatch(/^\d+$/);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Retry-After points at (about) the reset
    expect(Math.abs(Math.floor(Date.now() / 1000) + retryAfter - Number(res.headers["x-ratelimit-reset"]))).toBeLessThanOrEqual(2);
    // still limited, and a would-be success is refused as well
    const again = await bank.post(INGEST, { customerId: await bank.customer(), valid: false });
    expect(again.statusCode).toBe(429);
    expect(await ctx.prisma.verification.count({ where: { orgId: bank.orgId } })).toBe(0);
  });

  it("the headers are on every response of the route, whatever its status (but not Retry-After)", async () => {
    const bank = await ctx.tenant();
    const customerId = await bank.customer();
    const responses = [
      await bank.post(INGEST, { customerId, valid: false, reason: "NIK not found" }), // 201
      await verdict(bank), // 404
      await bank.post(INGEST, { customerId, valid: "no" }), // 400
      await bank.post(INGEST, "{"), // 400
      await bank.post(INGEST, "x", { "content-type": "text/plain" }), // 415
    ];
    const noScope = await ctx.tenant({ scopes: ["customers:write"] });
    responses.push(await verdict(noScope)); // 403
    const noCap = await ctx.tenant({ dukcapil: false });
    responses.push(await verdict(noCap)); // 403
    expect(responses.map((r) => r.statusCode)).toEqual([201, 404, 400, 400, 415, 403, 403]);
    for (const [i, r] of responses.entries()) {
      expect(r.headers["x-ratelimit-limit"], `response ${i}`).toBe("30");
      expect(r.headers["x-ratelimit-remaining"]).toMatch(/^\d+$/);
      expectReset(r, Date.now() - 60_000);
      expect(r.headers["retry-after"]).toBeUndefined();
    }
    expect(responses.slice(0, 5).map((r) => r.headers["x-ratelimit-remaining"])).toEqual(["29", "28", "27", "26", "25"]);
  });

  it("counts per key: a second key of the same org has its own budget; other routes are separate buckets", async () => {
    const bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 3 } });
    const second = await ctx.services.apiKeys.create({ orgId: bank.orgId, scopes: ["verifications:view", "customers:write"] });
    const secondAuth = { authorization: `Bearer ${second.key}` };
    for (let i = 0; i < 3; i++) expect((await verdict(bank)).statusCode).toBe(404);
    expect((await verdict(bank)).statusCode).toBe(429);
    const other = await ctx.app.inject({
      method: "POST",
      url: INGEST,
      headers: { ...secondAuth, "content-type": "application/json" },
      payload: { customerId: createId(), valid: false },
    });
    expect(other.statusCode).toBe(404);
    expect(rateHeaders(other)).toMatchObject({ limit: 3, remaining: 2 });
    // the exhausted key can still create customers: another bucket
    const c = await bank.post("/api/customers", {});
    expect(c.statusCode).toBe(201);
    expect(rateHeaders(c)).toMatchObject({ limit: 120, remaining: 119 });
  });

  it("an org override applies at once, to every key of the org, and only to its bucket", async () => {
    const bank = await ctx.tenant();
    expect(rateHeaders(await verdict(bank))).toMatchObject({ limit: 30, remaining: 29 });
    const org = await ctx.services.orgs.update(bank.orgId, { limits: { "identity.nik.dukcapil": 5 } });
    expect(org.rateLimits).toEqual({ "identity.nik.dukcapil": 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await verdict(bank)).statusCode);
    // one request already counted in this window: 4 more fit under 5
    expect(statuses).toEqual([404, 404, 404, 404, 429, 429]);
    const limited = await verdict(bank);
    expect(limited.json()).toMatchObject({ error: "rate limit exceeded", bucket: "identity.nik.dukcapil", limit: 5 });
    expect(rateHeaders(limited)).toMatchObject({ limit: 5, remaining: 0 });
    // a raised limit lets the key through again within the same window
    await ctx.services.orgs.update(bank.orgId, { limits: { "identity.nik.dukcapil": 100 } });
    expect(rateHeaders(await verdict(bank))).toMatchObject({ limit: 100 });
    expect(rateHeaders(await bank.post("/api/customers", {}))).toMatchObject({ limit: 120 });
    // another org is untouched
    const other = await ctx.tenant();
    expect(rateHeaders(await verdict(other))).toMatchObject({ limit: 30, remaining: 29 });
  });

  it("org set rejects unknown buckets and absurd limits", async () => {
    const bank = await ctx.tenant();
    const bad: Record<string, number>[] = [{ "identity.nik.nope": 5 }, { "identity.nik.dukcapil": 0 }, { "identity.nik.dukcapil": 1.5 }, { "identity.nik.dukcapil": 1e9 }];
    for (const limits of bad) {
      await expect(ctx.services.orgs.update(bank.orgId, { limits })).rejects.toMatchObject({ statusCode: 400 });
    }
  });
});

describe("customers.create: 120 per minute per key by default", () => {
  it("120 pass, the 121st is a 429 naming the bucket", async () => {
    const bank = await ctx.tenant();
    // 400s are cheap and counted like any other request
    for (let i = 1; i <= 120; i++) {
      const res = await bank.post("/api/customers", { externalRef: "bad ref!" });
      expect(res.statusCode, `request ${i}`).toBe(400);
      expect(res.headers["x-ratelimit-remaining"]).toBe(String(120 - i));
    }
    const res = await bank.post("/api/customers", {});
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ error: "rate limit exceeded", bucket: "customers.create", limit: 120 });
    expect(res.headers["retry-after"]).toMatch(/^\d+$/);
    expect(await ctx.prisma.customer.count({ where: { orgId: bank.orgId } })).toBe(0);
  });
});
