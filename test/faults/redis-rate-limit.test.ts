// Two server processes on one PostgreSQL database with REDIS_URL: one key's 30/min dukcapil limit is shared
// (30 allowed in total, the 31st is a 429 on either replica). Redis down: each replica falls over to its own
// in-memory log (src/plugins/rate-limit.ts), which already holds what it admitted itself, so it allows only
// the rest of the limit, not the whole limit again; it stays up and logs it. Redis back: shared again, logged.
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

  // Redis gone: no 5xx, no hang; each replica enforces the limit on its own, counting what it admitted itself
  // in the last minute: A admitted 15 of the 30, so 15 more on A, then 429 (not 30 more), logged.
  await redis.kill();
  const degraded: number[] = [];
  let slowest = 0;
  for (let i = 0; i < 16; i++) {
    const r = await onA.post(INGEST, verdict);
    degraded.push(r.status);
    slowest = Math.max(slowest, r.ms);
  }
  expect(degraded).toEqual([...Array(15).fill(201), 429]);
  expect(slowest).toBeLessThan(3_000);
  const onBDegraded: number[] = [];
  for (let i = 0; i < 16; i++) onBDegraded.push((await onB.post(INGEST, verdict)).status); // B's own 15 likewise
  expect(onBDegraded).toEqual([...Array(15).fill(201), 429]);
  for (const s of [a, b]) {
    expect((await request(s.port, "GET", "/healthz")).status).toBe(200);
    expect((await request(s.port, "GET", "/readyz")).status).toBe(200);
    await s.waitForLog((l) => l.msg === "rate limit store (Redis) unavailable; falling back to per-replica in-memory limits" && l.level === 50, 1_000);
  }

  // Redis back (empty: it keeps nothing on disk): a replica's own log still holds the last minute, so neither
  // allows anything more until that minute has passed; then they share Redis again, and say so.
  await redis.start();
  const backAt = Date.now();
  expect((await onA.post(INGEST, verdict)).status).toBe(429);
  await waitUntil(
    "A to use Redis again",
    async () => {
      await onA.post(INGEST, verdict);
      return a.logs.some((l) => l.msg === "rate limit store (Redis) is back; limits are shared again");
    },
    75_000,
    500,
  );
  console.log(
    `[faults] Redis: 30 shared across 2 replicas then 429 on both; Redis down: ${degraded.filter((s) => s === 201).length} more allowed on each replica ` +
      `(what it had not used of the limit), then 429, slowest ${Math.round(slowest)} ms, no 5xx; fall-over and recovery logged ` +
      `(shared again ${Math.round((Date.now() - backAt) / 1000)} s after Redis was back, once the minute had passed)`,
  );
  expect(a.alive() && b.alive()).toBe(true);
}, 180_000);
