// Two server processes on one PostgreSQL database with REDIS_URL: one key's 30/min dukcapil limit is shared
// (30 allowed in total, the 31st is a 429 on either replica). Redis down: each replica falls over to its own
// in-memory limiter (src/plugins/rate-limit.ts), stays up and logs it; Redis back: shared again, logged.
import { afterAll, expect, it } from "vitest";
import { api, cleanupAll, createTenant, freePort, INGEST, newSealingKeys, request, serviceEnv, startPgCluster, startRedis, startServer, tempDir, waitUntil } from "./harness.js";

afterAll(cleanupAll);

it("shares one key's limit across two replicas through Redis; Redis down: per-replica limits, logged", async () => {
  const cluster = await startPgCluster();
  const redis = await startRedis();
  const databaseUrl = await cluster.createDatabase();
  const sealingKeys = newSealingKeys();
  const envA = serviceEnv({ port: await freePort(), dataDir: await tempDir("redis-a"), databaseUrl, sealingKeys, redisUrl: redis.url });
  const a = await startServer(envA); // first alone: it applies the migrations
  const b = await startServer(serviceEnv({ port: await freePort(), dataDir: await tempDir("redis-b"), databaseUrl, sealingKeys, redisUrl: redis.url }));
  const tenant = await createTenant(envA); // the default dukcapil limit: 30 per minute per key
  const onA = api(a.port, tenant.key);
  const onB = api(b.port, tenant.key);
  const customerId = await onA.customer();
  const verdict = { customerId, valid: false, reason: "declined" };

  // 30 allowed in total across both replicas, alternating; then the 31st and 32nd are refused on each.
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) statuses.push((await (i % 2 ? onB : onA).post(INGEST, verdict)).status);
  expect(statuses).toEqual(Array(30).fill(201));
  const on31 = await onA.post(INGEST, verdict);
  const on32 = await onB.post(INGEST, verdict);
  for (const r of [on31, on32]) {
    expect(r.status).toBe(429);
    expect(r.json()).toMatchObject({ code: "rate_limited", bucket: "identity.nik.dukcapil", limit: 30 });
    expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
  }

  // Redis gone: no 5xx, no hang; each replica enforces the limit on its own (30 more on A, then 429), logged.
  await redis.kill();
  const degraded: number[] = [];
  let slowest = 0;
  for (let i = 0; i < 31; i++) {
    const r = await onA.post(INGEST, verdict);
    degraded.push(r.status);
    slowest = Math.max(slowest, r.ms);
  }
  expect(degraded.slice(0, 30)).toEqual(Array(30).fill(201));
  expect(degraded[30]).toBe(429);
  expect(slowest).toBeLessThan(3_000);
  expect((await onB.post(INGEST, verdict)).status).toBe(201); // B's own in-memory window
  for (const s of [a, b]) {
    expect((await request(s.port, "GET", "/healthz")).status).toBe(200);
    expect((await request(s.port, "GET", "/readyz")).status).toBe(200);
    await s.waitForLog((l) => l.msg === "rate limit store (Redis) unavailable; falling back to per-replica in-memory limits" && l.level === 50, 1_000);
  }

  // Redis back (empty: it keeps nothing on disk): the replicas share it again, and say so.
  await redis.start();
  await waitUntil(
    "A to use Redis again",
    async () => {
      await onA.post(INGEST, verdict);
      return a.logs.some((l) => l.msg === "rate limit store (Redis) is back; limits are shared again");
    },
    15_000,
    250,
  );
  console.log(
    `[faults] Redis: 30 shared across 2 replicas then 429 on both; Redis down: ${degraded.filter((s) => s === 201).length} allowed on one replica ` +
      `then 429, slowest ${Math.round(slowest)} ms, no 5xx; fall-over and recovery logged`,
  );
  expect(a.alive() && b.alive()).toBe(true);
});
