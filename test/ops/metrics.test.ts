// Prometheus metrics: what the hooks count, and the separate, token-guarded scrape listener.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics, startMetricsServer, type Metrics } from "../../src/metrics.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { testDbKind } from "../helpers/db.js";
import { b64, jpeg } from "../helpers/images.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;
let photo: string;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 1000 } });
  photo = b64(await jpeg());
});
afterAll(() => ctx.close());

async function value(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const base = name.replace(/_count$/, ""); // a histogram's _count series lives on the histogram
  const metric = metrics.registry.getSingleMetric(base);
  if (!metric) throw new Error(`no metric ${base}`);
  const { values } = await metric.get();
  const hit = values.find(
    (v) => ((v as { metricName?: string }).metricName ?? base) === name && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return hit?.value ?? 0;
}

describe("metrics", () => {
  it("counts verdicts by outcome, enrolments by fallback cause, and requests by route and status", async () => {
    const m = ctx.app.metrics;
    const route = { method: "POST", route: INGEST, status: "201" };
    const before = {
      verified: await value(m, "identity_dukcapil_verdicts_total", { outcome: "verified" }),
      failed: await value(m, "identity_dukcapil_verdicts_total", { outcome: "failed" }),
      stub: await value(m, "identity_face_enrolments_total", { source: "dukcapil", fallback_stub: "true", cause: "engine_off" }),
      requests: await value(m, "http_requests_total", route),
      observed: await value(m, "http_request_duration_seconds_count", route),
    };
    const customerId = await bank.customer();
    expect((await bank.post(INGEST, { customerId, valid: true, photo })).statusCode).toBe(201);
    expect((await bank.post(INGEST, { customerId, valid: false, reason: "NIK not found" })).statusCode).toBe(201);
    // A refused request is a request, not a verdict.
    expect((await bank.post(INGEST, { customerId: "not-a-cuid", valid: false })).statusCode).toBe(400);

    expect(await value(m, "identity_dukcapil_verdicts_total", { outcome: "verified" })).toBe(before.verified + 1);
    expect(await value(m, "identity_dukcapil_verdicts_total", { outcome: "failed" })).toBe(before.failed + 1);
    expect(await value(m, "identity_face_enrolments_total", { source: "dukcapil", fallback_stub: "true", cause: "engine_off" })).toBe(before.stub + 1);
    expect(await value(m, "http_requests_total", route)).toBe(before.requests + 2);
    expect(await value(m, "http_requests_total", { method: "POST", route: INGEST, status: "400" })).toBeGreaterThanOrEqual(1);
    expect(await value(m, "http_request_duration_seconds_count", route)).toBe(before.observed + 2);
    // Route patterns, never raw URLs: unknown paths share one series.
    await ctx.app.inject({ method: "GET", url: "/nope/123" });
    expect(await value(m, "http_requests_total", { method: "GET", route: "unmatched", status: "404" })).toBeGreaterThanOrEqual(1);
  });

  it("does not count an idempotent replay as a second verdict", async () => {
    const m = ctx.app.metrics;
    const before = await value(m, "identity_dukcapil_verdicts_total", { outcome: "failed" });
    const customerId = await bank.customer();
    const headers = { "idempotency-key": `metrics-replay-${customerId}` };
    const first = await bank.post(INGEST, { customerId, valid: false }, headers);
    const replay = await bank.post(INGEST, { customerId, valid: false }, headers);
    expect([first.statusCode, replay.statusCode]).toEqual([201, 201]);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(await value(m, "identity_dukcapil_verdicts_total", { outcome: "failed" })).toBe(before + 1);
  });

  it("counts rate-limit rejections by bucket", async () => {
    const tight = await ctx.tenant({ limits: { "customers.create": 1 } });
    const before = await value(ctx.app.metrics, "http_rate_limit_rejections_total", { bucket: "customers.create" });
    expect((await tight.post("/api/customers", {})).statusCode).toBe(201);
    expect((await tight.post("/api/customers", {})).statusCode).toBe(429);
    expect((await tight.post("/api/customers", {})).statusCode).toBe(429);
    expect(await value(ctx.app.metrics, "http_rate_limit_rejections_total", { bucket: "customers.create" })).toBe(before + 2);
  });

  it("reports the database: up, ping time, and the PostgreSQL pool's state", async () => {
    const metrics = createMetrics({ pingDatabase: () => ctx.prisma.$queryRaw`SELECT 1`, poolStats: ctx.db.poolStats });
    expect(await value(metrics, "db_up", {})).toBe(1);
    expect(await value(metrics, "db_ping_seconds", {})).toBeGreaterThan(0);
    if (testDbKind === "postgres") {
      expect(await value(metrics, "db_pool_connections", { state: "total" })).toBeGreaterThanOrEqual(1);
      expect(await value(metrics, "db_pool_connections", { state: "waiting" })).toBe(0);
    } else {
      expect(metrics.registry.getSingleMetric("db_pool_connections")).toBeUndefined(); // one in-process connection
    }
    const down = createMetrics({ pingDatabase: () => Promise.reject(new Error("down")) });
    expect(await value(down, "db_up", {})).toBe(0);
  });

  it("serves /metrics only on its own listener, behind its token; the API port has no /metrics", async () => {
    const token = "t".repeat(40);
    const server = await startMetricsServer({ registry: ctx.app.metrics.registry, host: "127.0.0.1", port: 0, token });
    try {
      const url = `http://127.0.0.1:${server.port}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${"x".repeat(40)}` } })).status).toBe(401);
      expect((await fetch(url, { headers: bank.auth })).status).toBe(401); // a bank's API key is not the token
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get("content-type")).toContain("text/plain");
      const text = await ok.text();
      expect(text).toContain("# TYPE http_requests_total counter");
      expect(text).toContain('identity_dukcapil_verdicts_total{outcome="verified"}');
      expect(text).not.toContain(bank.key);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    } finally {
      await server.close();
    }
    const onApi = await ctx.app.inject({ method: "GET", url: "/metrics", headers: bank.auth });
    expect(onApi.statusCode).toBe(404);
  });
});
