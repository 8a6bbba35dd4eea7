// PostgreSQL stopped under load: every request fails fast with a 503 in the error shape, /readyz says 503,
// and the same process serves again on its own once PostgreSQL is back.
import { afterAll, expect, it } from "vitest";
import { b64, jpeg } from "../helpers/images.js";
import { api, cleanupAll, createTenant, freePort, newSealingKeys, request, serviceEnv, startPgCluster, startServer, stopServer, tempDir, waitUntil } from "./harness.js";
import { auditVerdicts, openServiceDatabase, startLoad } from "./verdicts.js";

afterAll(cleanupAll);

/** No request may take longer than this while the database is down (pool connect timeout 3 s + slack). */
const FAIL_FAST_MS = 5_000;

// fast: sessions terminated (an operator's restart, a failover); immediate: PostgreSQL crashes.
it.each(["fast", "immediate"] as const)("PostgreSQL down (%s stop): fast 503s and /readyz 503; back: recovers without a restart", async (mode) => {
  const cluster = await startPgCluster();
  const sealingKeys = newSealingKeys();
  const env = serviceEnv({ port: await freePort(), dataDir: await tempDir("outage"), databaseUrl: await cluster.createDatabase(), sealingKeys });
  const server = await startServer(env);
  const tenant = await createTenant(env, 100_000);
  const client = api(server.port, tenant.key);
  const customers = await Promise.all(Array.from({ length: 6 }, () => client.customer()));
  const photo = b64(await jpeg(320, 400));

  const load = startLoad({ port: server.port, key: tenant.key, customers, photo, concurrency: 4 });
  await waitUntil("verdicts before the outage", async () => load.sent.filter((v) => v.status === 201).length >= 10, 20_000, 20);

  const downAt = Date.now();
  await cluster.stop(mode);
  await waitUntil("503s during the outage", async () => load.sent.filter((v) => v.startedAt > downAt && v.status === 503).length >= 10, 15_000, 20);
  const ready = await request(server.port, "GET", "/readyz", { timeoutMs: FAIL_FAST_MS });
  expect(ready.status).toBe(503);
  expect(ready.json()).toEqual({ error: expect.any(String), code: "unavailable", requestId: expect.any(String) });
  expect(ready.ms).toBeLessThan(FAIL_FAST_MS);
  const health = await request(server.port, "GET", "/healthz");
  expect(health.status).toBe(200); // alive: the process itself is fine, only not ready

  const upAt = Date.now();
  await cluster.start();
  await waitUntil("a verdict after the outage", async () => load.sent.some((v) => v.startedAt > upAt && v.status === 201), 20_000, 50);
  const recoveredMs = Date.now() - upAt;
  await waitUntil("/readyz 200", async () => (await request(server.port, "GET", "/readyz")).status === 200, 10_000);
  await load.stop();
  expect(server.alive()).toBe(true); // the same process: no restart

  const byStatus: Record<string, number> = {};
  for (const v of load.sent) byStatus[v.error ? "transport error" : String(v.status)] = (byStatus[v.error ? "transport error" : String(v.status)] ?? 0) + 1;
  const during = load.sent.filter((v) => v.startedAt > downAt && v.startedAt < upAt);
  const slowest = Math.max(...load.sent.map((v) => v.ms ?? Infinity));
  console.log(
    `[faults] PostgreSQL outage (${mode} stop): ${load.sent.length} verdicts, by status ${JSON.stringify(byStatus)}; ${during.length} sent while down, ` +
      `slowest answer ${Math.round(slowest)} ms; served again ${recoveredMs} ms after PostgreSQL was back`,
  );
  const failedIds = new Set(load.sent.filter((v) => v.status === 500).map((v) => (JSON.parse(v.body!) as { requestId: string }).requestId));
  for (const l of server.logs.filter((x) => failedIds.has(x.requestId as string) && x.level >= 50)) console.log("[faults] 500 cause:", JSON.stringify(l.err).slice(0, 1500));
  expect(Object.keys(byStatus).sort()).toEqual(["201", "503"]); // no 500, no hang, no dropped connection
  expect(slowest).toBeLessThan(FAIL_FAST_MS);
  for (const v of load.sent.filter((x) => x.status === 503)) {
    expect(JSON.parse(v.body!)).toEqual({ error: "database unavailable; retry later", code: "unavailable", requestId: expect.any(String) });
    expect(v.retryAfter).toBe("5");
  }
  expect(server.logs.filter((l) => l.level >= 50 && l.msg === "request failed").length).toBeGreaterThan(0); // logged, with the cause

  const stopped = await stopServer(server);
  expect(stopped.code).toBe(0);
  const db = await openServiceDatabase(env);
  try {
    const audit = await auditVerdicts(db, sealingKeys, load.sent);
    expect(audit.problems).toEqual([]);
  } finally {
    await db.close();
  }
});

it("PostgreSQL frozen (accepts connections, never answers): bounded 503s, then recovery", async () => {
  const cluster = await startPgCluster();
  const env = serviceEnv({ port: await freePort(), dataDir: await tempDir("frozen"), databaseUrl: await cluster.createDatabase(), sealingKeys: newSealingKeys() });
  const server = await startServer(env);
  const tenant = await createTenant(env, 100_000);
  const client = api(server.port, tenant.key);
  const customers = await Promise.all(Array.from({ length: 4 }, () => client.customer()));
  const photo = b64(await jpeg(320, 400));
  const load = startLoad({ port: server.port, key: tenant.key, customers, photo, concurrency: 4, timeoutMs: 30_000 });
  await waitUntil("verdicts before the freeze", async () => load.sent.filter((v) => v.status === 201).length >= 8, 20_000, 20);

  const frozenAt = Date.now();
  await cluster.freeze();
  try {
    await waitUntil("answers while frozen", async () => load.sent.filter((v) => v.startedAt > frozenAt && v.status !== undefined).length >= 8, 25_000, 50);
    const ready = await request(server.port, "GET", "/readyz", { timeoutMs: FAIL_FAST_MS });
    expect(ready.status).toBe(503);
  } finally {
    await cluster.thaw();
  }
  const thawedAt = Date.now();
  await waitUntil("a verdict after the thaw", async () => load.sent.some((v) => v.startedAt > thawedAt && v.status === 201), 20_000, 50);
  await load.stop();
  const during = load.sent.filter((v) => v.startedAt > frozenAt && v.startedAt < thawedAt);
  const slowest = Math.max(...during.map((v) => v.ms ?? Infinity));
  const statuses = [...new Set(during.map((v) => v.error ?? v.status))];
  console.log(`[faults] PostgreSQL frozen: ${during.length} verdicts sent while frozen, answered ${JSON.stringify(statuses)}, slowest ${Math.round(slowest)} ms`);
  expect(statuses.every((s) => s === 503 || s === 201)).toBe(true);
  expect(statuses).toContain(503);
  // Every query answers or fails within the pool's query_timeout (5 s, src/db/client.ts): no request hangs.
  expect(slowest).toBeLessThan(8_000);
  for (const v of during.filter((x) => x.status === 503)) expect(JSON.parse(v.body!)).toMatchObject({ code: "unavailable" });
  expect(server.alive()).toBe(true);
});
