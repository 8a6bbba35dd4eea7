// The Prometheus registry and every metric the service exports. One registry per app instance (tests build
// many apps in one process); the HTTP hooks that feed it are in plugins/metrics.ts, and the scrape endpoint is
// its own listener (server.ts), never the API port.
import { timingSafeEqual, createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ERASURE_KINDS, ERASURE_TRIGGERS, type ErasureCounts, type ErasureTrigger } from "./modules/erasure/erasure-types.js";

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface MetricsSources {
  /** Answers when the database does (a `SELECT 1`); run at scrape time, bounded by a timeout. */
  pingDatabase?: () => Promise<unknown>;
  /** The PostgreSQL connection pool (absent for the embedded database, which has one in-process connection). */
  poolStats?: () => PoolStats;
  /** What every erasure on record removed, by trigger (read from the erasure log at scrape time). */
  erasureTotals?: () => Promise<({ trigger: ErasureTrigger } & ErasureCounts)[]>;
  /** Process metrics (CPU, memory, event-loop lag, GC): on for the server, off in tests. */
  processMetrics?: boolean;
}

const PING_TIMEOUT_MS = 1_000;


export function createMetrics(sources: MetricsSources = {}) {
  const registry = new Registry();
  if (sources.processMetrics) collectDefaultMetrics({ register: registry });

  const httpRequests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from request received to response sent, by method, route pattern and status",
    labelNames: ["method", "route", "status"] as const,
    // The ingest decodes, inspects and seals photos of up to 5 MiB: the tail reaches seconds.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const verdicts = new Counter({
    name: "identity_dukcapil_verdicts_total",
    help: "Dukcapil verdicts recorded (committed; idempotent replays not counted), by outcome",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const enrolments = new Counter({
    name: "identity_face_enrolments_total",
    help: "Face enrolments recorded, by source and fallback-stub cause (cause=none: a real face template)",
    labelNames: ["source", "fallback_stub", "cause"] as const,
    registers: [registry],
  });
  const faceMatches = new Counter({
    name: "identity_face_matches_total",
    help: "Face matches recorded (committed; idempotent replays not counted), by outcome, reference source and whether the reference was re-templated for it",
    labelNames: ["outcome", "reference_source", "reference_retemplated"] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: "http_rate_limit_rejections_total",
    help: "Requests refused with 429, by rate-limit bucket",
    labelNames: ["bucket"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "db_up",
    help: "1 when the database answered a ping within 1 s at scrape time, else 0",
    registers: [registry],
    async collect() {
      this.set((await pingSeconds(sources.pingDatabase)) === undefined ? 0 : 1);
    },
  });
  new Gauge({
    name: "db_ping_seconds",
    help: "Round trip of a SELECT 1 at scrape time (absent when the ping failed)",
    registers: [registry],
    async collect() {
      this.reset();
      const s = await pingSeconds(sources.pingDatabase);
      if (s !== undefined) this.set(s);
    },
  });
  if (sources.erasureTotals) {
    const totals = sources.erasureTotals;
    new Counter({
      name: "identity_erased_total",
      help: "Sealed items erased, by kind (photos, templates, selfies, raw) and trigger (request: admin customer erase; retention: the sweep). Read from the erasure log at scrape time: the same total on every replica",
      labelNames: ["kind", "trigger"] as const,
      registers: [registry],
      async collect() {
        const rows = await withTimeout(totals()).catch(() => undefined);
        this.reset();
        if (!rows) return; // the database did not answer: no series rather than false zeros
        for (const trigger of ERASURE_TRIGGERS) {
          const row = rows.find((r) => r.trigger === trigger);
          for (const kind of ERASURE_KINDS) this.inc({ kind, trigger }, row?.[kind] ?? 0);
        }
      },
    });
  }
  if (sources.poolStats) {
    const stats = sources.poolStats;
    new Gauge({
      name: "db_pool_connections",
      help: "PostgreSQL connection pool: total open, idle, and requests waiting for a connection",
      labelNames: ["state"] as const,
      registers: [registry],
      collect() {
        const s = stats();
        this.set({ state: "total" }, s.total);
        this.set({ state: "idle" }, s.idle);
        this.set({ state: "waiting" }, s.waiting);
      },
    });
  }

  return { registry, httpRequests, httpDuration, verdicts, enrolments, faceMatches, rateLimited };
}
export type Metrics = ReturnType<typeof createMetrics>;

async function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), PING_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function pingSeconds(ping: (() => Promise<unknown>) | undefined): Promise<number | undefined> {
  if (!ping) return undefined;
  const started = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("ping timed out")), PING_TIMEOUT_MS);
      }),
    ]);
    return Number(process.hrtime.bigint() - started) / 1e9;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The scrape endpoint: GET /metrics on its own listener (METRICS_HOST:METRICS_PORT), so API keys and the API
 * port never reach it. With a token, scrapes must send `Authorization: Bearer <token>`.
 */
export async function startMetricsServer(opts: { registry: Registry; host: string; port: number; token?: string }) {
  const expected = opts.token ? digest(`Bearer ${opts.token}`) : undefined;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    // Compare digests so the check takes the same time whatever the length of what was sent.
    if (expected && !timingSafeEqual(digest(req.headers.authorization ?? ""), expected)) {
      res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="metrics"' }).end("unauthorized\n");
      return;
    }
    opts.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n"),
    );
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
