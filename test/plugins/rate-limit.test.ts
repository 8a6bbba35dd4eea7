// Rate limits per the conventions: per key, per bucket, per minute; X-RateLimit-* on every response of a
// limited route (Reset a Unix timestamp in seconds), Retry-After only on 429, the conventions' 429 body.
import type { LightMyRequestResponse } from "fastify";
import { createId } from "@paralleldrive/cuid2";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, test } from "vitest";
import { buildApp } from "../../src/app.js";
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

// ------------------------------------------------------------------------------------ the sliding window

/** An app on the same database whose rate limiter reads a clock the test moves. */
async function appWithClock(opts: { redis?: Redis; logs?: string[] } = {}) {
  let now = Date.UTC(2026, 10, 25, 9, 0, 0); // a minute boundary: where a fixed window would reset
  const app = await buildApp({
    prisma: ctx.prisma,
    services: ctx.services,
    redis: opts.redis,
    rateLimitClock: () => now,
    logLevel: opts.logs ? "info" : "silent",
    logStream: opts.logs ? { write: (l) => void opts.logs!.push(l) } : undefined,
  });
  await app.ready();
  const at = (ms: number) => (now = Date.UTC(2026, 10, 25, 9, 0, 0) + ms);
  const send = (t: Tenant) =>
    app.inject({ method: "POST", url: INGEST, headers: { ...t.auth, "content-type": "application/json" }, payload: { customerId: createId(), valid: false } });
  return { app, at, send, now: () => now };
}

const redisUrl = process.env.TEST_REDIS_URL;
const redisClient = () =>
  new Redis(redisUrl!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 1_000, lazyConnect: false });
async function connected(r: Redis) {
  if (r.status !== "ready") await new Promise((resolve, reject) => (r.once("ready", resolve), r.once("error", reject)));
  return r;
}

describe.each([
  ["in memory", false],
  ["in Redis", true],
] as const)("sliding window %s: no 60-second span admits more than the limit", (_name, withRedis) => {
  const it = withRedis && !redisUrl ? test.skip : test; // (Redis: with TEST_REDIS_URL)
  {
    let redis: Redis | undefined;
    beforeAll(async () => {
      if (withRedis) redis = await connected(redisClient());
    });
    afterAll(async () => {
      await redis?.quit();
    });

    it("the window-edge burst (29 at 0:59.9, 30 at 1:00.1–1:01.2) admits 30, not 59; the slots come back as the oldest leave", async () => {
      const logs: string[] = [];
      const { app, at, send } = await appWithClock({ redis, logs });
      try {
        const bank = await ctx.tenant(); // 30 per minute
        const statuses = async (from: number, to: number, n: number) => {
          const out: LightMyRequestResponse[] = [];
          for (let i = 0; i < n; i++) {
            at(from + Math.round(((to - from) * i) / Math.max(1, n - 1)));
            out.push(await send(bank));
          }
          return out;
        };
        const before = await statuses(59_400, 59_900, 29);
        expect(before.map((r) => r.statusCode)).toEqual(Array(29).fill(404));
        const after = await statuses(60_100, 61_200, 30);
        expect(after.map((r) => r.statusCode)).toEqual([404, ...Array(29).fill(429)]);
        const refused = after[1]!;
        expect(rateHeaders(refused)).toMatchObject({ limit: 30, remaining: 0 });
        // the next slot frees when the first request (at 0:59.4) leaves the window: 1:59.4
        expect(Number(refused.headers["x-ratelimit-reset"])).toBe(Math.ceil((Date.UTC(2026, 10, 25, 9, 0, 0) + 119_400) / 1000));
        const refusedAt = 60_100 + Math.round(1_100 / 29); // the second of the 30
        expect(Number(refused.headers["retry-after"])).toBe(Math.ceil((119_400 - refusedAt) / 1000));
        // 1:59.4 → 1:59.9: the 29 early ones leave, one by one; the one of 1:00.1 is still in the window
        const later = await statuses(119_950, 119_950, 30);
        expect(later.map((r) => r.statusCode)).toEqual([...Array(29).fill(404), 429]);
        at(120_100 + 1); // and now the 1:00.1 one has left too
        expect((await send(bank)).statusCode).toBe(404);
        if (redis) {
          // the decisions were Redis's, not the in-memory fall-over's: the key's log is there, with the 29 of
          // 1:59.95 and the one just admitted
          expect(await redis.zcard(`qe-rl:identity.nik.dukcapil:${bank.keyId}`)).toBe(30);
          expect(logs.filter((l) => l.includes("rate limit store (Redis) unavailable"))).toEqual([]);
        }
      } finally {
        await app.close();
      }
    });

    it("property: at every instant, what was admitted in the last 60 s is within the limit, and a refusal happens only at the limit", async () => {
      const logs: string[] = [];
      const { app, at, send } = await appWithClock({ redis, logs });
      try {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 9_000 }), { minLength: 5, maxLength: 60 }), async (limit, gaps) => {
            const bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": limit } });
            const admitted: number[] = [];
            let t = 0;
            for (const gap of gaps) {
              t += gap;
              at(t);
              const res = await send(bank);
              const inWindow = admitted.filter((a) => a > t - 60_000);
              if (inWindow.length < limit) {
                expect(res.statusCode, `t=${t} admitted ${inWindow.length}/${limit}`).toBe(404);
                admitted.push(t);
                expect(rateHeaders(res).remaining).toBe(limit - inWindow.length - 1);
              } else {
                expect(res.statusCode, `t=${t} admitted ${inWindow.length}/${limit}`).toBe(429);
                expect(Number(res.headers["retry-after"])).toBe(Math.max(1, Math.ceil((inWindow[0]! + 60_000 - t) / 1000)));
              }
              const oldest = admitted.filter((a) => a > t - 60_000)[0]!;
              expect(Number(res.headers["x-ratelimit-reset"])).toBe(Math.ceil((Date.UTC(2026, 10, 25, 9, 0, 0) + oldest + 60_000) / 1000));
            }
            for (const a of admitted) expect(admitted.filter((b) => b > a - 60_000 && b <= a).length).toBeLessThanOrEqual(limit);
          }),
          { numRuns: 25 },
        );
        expect(logs.filter((l) => l.includes("rate limit store (Redis) unavailable"))).toEqual([]); // (with Redis: Redis decided)
      } finally {
        await app.close();
      }
    });
  }
});

describe.runIf(Boolean(redisUrl))("shared through Redis by two instances", () => {
  it("one key's limit is one budget across both, window edge included", async () => {
    const [ra, rb] = [await connected(redisClient()), await connected(redisClient())];
    const a = await appWithClock({ redis: ra });
    const b = await appWithClock({ redis: rb });
    try {
      const bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10 } });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        a.at(59_000 + i * 100);
        b.at(59_000 + i * 100);
        statuses.push((await (i % 2 ? b : a).send(bank)).statusCode);
      }
      expect(statuses).toEqual([...Array(10).fill(404), 429, 429]);
      // past the fixed window's edge: still one shared, sliding budget
      a.at(60_500);
      b.at(60_500);
      expect((await a.send(bank)).statusCode).toBe(429);
      expect((await b.send(bank)).statusCode).toBe(429);
      a.at(119_001); // the first admission (0:59.0) has left the window: one slot, for whichever instance asks first
      b.at(119_001);
      expect((await b.send(bank)).statusCode).toBe(404);
      expect((await a.send(bank)).statusCode).toBe(429);
    } finally {
      await a.app.close();
      await b.app.close();
      await ra.quit();
      await rb.quit();
    }
  });

  it("Redis gone: each instance goes on from what it admitted itself (not the whole limit again), logged once; back: shared again", async () => {
    const logs: string[] = [];
    const ra = await connected(redisClient());
    const rb = await connected(redisClient());
    const a = await appWithClock({ redis: ra, logs });
    const b = await appWithClock({ redis: rb });
    try {
      const bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10 } });
      for (let i = 0; i < 8; i++) {
        a.at(1_000 + i);
        b.at(1_000 + i);
        expect((await (i % 2 ? b : a).send(bank)).statusCode).toBe(404); // 4 on each
      }
      ra.disconnect(); // A loses Redis (B keeps it)
      const degraded: number[] = [];
      for (let i = 0; i < 8; i++) {
        a.at(2_000 + i);
        degraded.push((await a.send(bank)).statusCode);
      }
      // A admitted 4 in this window itself: 6 more, not 10
      expect(degraded).toEqual([...Array(6).fill(404), 429, 429]);
      const errorLines = logs.filter((l) => l.includes("rate limit store (Redis) unavailable; falling back to per-replica in-memory limits"));
      expect(errorLines).toHaveLength(1);
      expect(JSON.parse(errorLines[0]!).level).toBe(50);
      // B still shares Redis: 8 of 10 there, so 2 more
      b.at(2_100);
      expect((await b.send(bank)).statusCode).toBe(404);
      expect((await b.send(bank)).statusCode).toBe(404);
      expect((await b.send(bank)).statusCode).toBe(429);
      // A's Redis is back: logged, and A is still bound by what it admitted meanwhile (10 in its own log)
      await ra.connect();
      a.at(3_000);
      expect((await a.send(bank)).statusCode).toBe(429);
      expect(logs.some((l) => l.includes("rate limit store (Redis) is back; limits are shared again"))).toBe(false); // refused locally: Redis not asked
      a.at(62_000); // A's own entries of 0:01 have left; Redis has B's 0:02.1 ones and A's of 0:01 gone too
      b.at(62_000);
      expect((await a.send(bank)).statusCode).toBe(404);
      expect(logs.some((l) => l.includes("rate limit store (Redis) is back; limits are shared again"))).toBe(true);
    } finally {
      await a.app.close();
      await b.app.close();
      ra.disconnect();
      await rb.quit();
    }
  });
});
