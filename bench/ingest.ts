// npm run bench:ingest — the ingest under load, on PostgreSQL.
//
// 1. Starts the real service (a separate process, built as the image runs it unless BENCH_SERVICE=source)
//    on a fresh PostgreSQL database and drives
//    POST /api/identity/nik/dukcapil with autocannon: ~100 KB JPEG photos, many customers, one org whose
//    limit is raised so the bench measures the service, not the rate limiter.
// 2. In the same run, times the same work in-process without HTTP (decode + validate + seal + transaction)
//    through the service layer, so the HTTP overhead shows as a ratio.
// 3. The face engine is on in both, at the service's default settings unless FACE_* say otherwise (photos
//    are real portraits cropped from the demo images of @vladmandic/face-api, so every verdict can get a
//    template). Reported: the event-loop delay p99 during the run (must stay under 50 ms: inference runs in
//    worker threads, never on the loop) and the RSS after warm-up and after the run, of the service process
//    (measured inside it by bench/server-probe.mjs) and of the in-process run; and the enrolments by fallback
//    cause (a timeout there means the engine did not keep up within FACE_TIMEOUT_MS).
// 4. The engine's ceiling: before the service starts and again once it has stopped, one worker templates the
//    same photos one at a time (p50 wall time and CPU per template); verdicts that got a template per second
//    over the HTTP run are set against FACE_WORKERS / template time, the mean of the two (issue 10's targets:
//    >= 85 % of it and >= 21.8/s; RSS <= 450 MB). Both are measured because a shared machine's speed drifts
//    from one minute to the next (seen here: 24 to 31 ms for the same photos); the ratio against each alone
//    is reported too.
//
// The service runs with MALLOC_ARENA_MAX=2 (as `npm start` and the image do) unless the environment sets it.
// Env: BENCH_SERVICE (built|source, see bench/service.ts), BENCH_DATABASE_URL (default
// postgresql://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS (15), BENCH_CONNECTIONS (8), BENCH_CUSTOMERS
// (200), FACE_ENGINE (onnx|off), FACE_WORKERS, FACE_TIMEOUT_MS.
import { monitorEventLoopDelay } from "node:perf_hooks";
import autocannon from "autocannon";
import { loadConfig } from "../src/config.js";
import { createSealer, generateSealingKeyEntry, parseSealingKeys } from "../src/crypto/seal.js";
import { openDatabase } from "../src/db/client.js";
import { faceEngineOff } from "../src/face/engine.js";
import { startFaceTemplateEngine } from "../src/face/template-engine.js";
import { createServices } from "../src/services.js";
import { PORTRAIT_PEOPLE, portrait } from "../test/face/photos.js";
import { benchDatabase, SERVICE_MODE, startBenchService, type BenchService } from "./service.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 200);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const FACE_ENGINE = process.env.FACE_ENGINE ?? "onnx";
/** The service's face settings: its defaults, or what FACE_WORKERS / FACE_TIMEOUT_MS say. */
const FACE = loadConfig(Object.fromEntries(Object.entries({ FACE_WORKERS: process.env.FACE_WORKERS, FACE_TIMEOUT_MS: process.env.FACE_TIMEOUT_MS }).filter(([, v]) => v !== undefined))).face;
const MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? "2";
const ELD_P99_LIMIT_MS = 50;
const TARGETS = { ofCeiling: 0.85, perSecond: 21.8, rssMb: 450 };
const IDLE_SETTLE_MS = 10_000;
const rssMb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);


async function main() {
  const database = await benchDatabase("ingest");
  const sealingKeys = generateSealingKeyEntry("bench1");
  let server: BenchService | undefined;
  const db = await openDatabase({ kind: "postgres", url: database.url, poolMax: 10 });
  /** Enrolments so far by fallback cause ("template" for the ones that got one). */
  const fallbackCauses = async () => {
    const rows = await db.prisma.faceEnrolment.groupBy({ by: ["fallbackCause"], _count: { _all: true } });
    return Object.fromEntries(rows.map((r) => [r.fallbackCause ?? "template", r._count._all])) as Record<string, number>;
  };
  const diffCauses = (now: Record<string, number>, before: Record<string, number>) =>
    Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
  try {
    await db.migrate();
    const sealer = createSealer(parseSealingKeys(sealingKeys));
    const services = createServices({ prisma: db.prisma, sealer, face: faceEngineOff }); // setup only
    const org = await services.orgs.create({ name: "Bench Bank", dukcapilEnabled: true });
    await services.orgs.update(org.id, { limits: { "identity.nik.dukcapil": 100_000 } });
    const key = await services.apiKeys.create({ orgId: org.id, scopes: ["verifications:view"], env: "sandbox" });
    const customers: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) customers.push((await services.customers.create(org.id, {})).id);
    const photos = await Promise.all(PORTRAIT_PEOPLE.map((who) => portrait(who, { width: 600, height: 750, quality: 97 })));
    const avgKb = photos.reduce((a, p) => a + p.length, 0) / photos.length / 1024;
    // --- the engine's ceiling: one worker, the same photos, one at a time; measured before the HTTP run and
    // again after it (the service stopped), since a shared machine's speed drifts between minutes
    const timeTemplates = async (): Promise<{ p50Ms: number; cpuMs: number }> => {
      const one = startFaceTemplateEngine({ workers: 1, timeoutMs: 60_000 });
      await one.ready;
      for (const p of photos) await one.template(p);
      const times: number[] = [];
      const c0 = process.cpuUsage();
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        await one.template(photos[i % photos.length]!);
        times.push(performance.now() - t);
      }
      const c = process.cpuUsage(c0);
      await one.close();
      times.sort((a, b) => a - b);
      return { p50Ms: +pct(times, 50).toFixed(1), cpuMs: +((c.user + c.system) / 1000 / times.length).toFixed(1) };
    };
    const templateTimeBefore = FACE_ENGINE !== "off" ? await timeTemplates() : undefined;

    const bodies = customers.map((customerId, i) =>
      JSON.stringify({ customerId, valid: true, photo: photos[i % photos.length]!.toString("base64"), raw: { nik: "3171000000000000", i } }),
    );

    // --- over HTTP, against the real service process
    server = await startBenchService({ databaseUrl: database.url, sealingKeys, env: { FACE_ENGINE } });
    const base = server.base;
    const headers = { authorization: `Bearer ${key.key}`, "content-type": "application/json" };
    // warm-up
    await autocannon({ url: base, connections: 2, amount: 40, requests: bodies.slice(0, 40).map((body) => ({ method: "POST", path: "/api/identity/nik/dukcapil", headers, body })) });
    const serverWarm = await server.probe("probe:reset");
    const causesBeforeHttp = await fallbackCauses();
    const http = await autocannon({
      url: base,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: bodies.map((body) => ({ method: "POST", path: "/api/identity/nik/dukcapil", headers, body })),
    });
    const non2xx = http.non2xx + http.errors + http.timeouts;
    const serverAfter = await server.probe("probe:report");
    const httpCauses = diffCauses(await fallbackCauses(), causesBeforeHttp);
    // and once idle for a while: V8 collects the run's garbage (large request strings, decoded pixels) only
    // in a full GC, which an idle process gets from its memory reducer within seconds
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const serverIdle = await server.probe("probe:report");
    await server.stop();
    server = undefined;
    const templateTimeAfter = FACE_ENGINE !== "off" ? await timeTemplates() : undefined;

    // --- in-process, no HTTP: the same service call, same concurrency, its own face engine
    const face =
      FACE_ENGINE === "off"
        ? faceEngineOff
        : startFaceTemplateEngine({ workers: FACE.workers, timeoutMs: FACE.timeoutMs });
    const inProc = createServices({ prisma: db.prisma, sealer, face });
    const times: number[] = [];
    const b64 = photos.map((p) => p.toString("base64"));
    let n = 0;
    let deadline = 0; // set when the measured run starts, after the warm-up
    const worker = async () => {
      while (performance.now() < deadline) {
        const i = n++;
        const t = performance.now();
        await inProc.dukcapil.ingest({
          orgId: org.id, apiKeyId: key.id, requestId: `bench-${i}`, customerId: customers[i % customers.length]!,
          valid: true, photo: b64[i % b64.length], rawText: JSON.stringify({ nik: "3171000000000000", i }),
        });
        times.push(performance.now() - t);
      }
    };
    // warm-up (the engine loads), then measure
    const warmUntil = performance.now() + 3_000;
    await Promise.all(
      Array.from({ length: 2 }, async (_, w) => {
        for (let i = w; performance.now() < warmUntil; i += 2) {
          await inProc.dukcapil.ingest({ orgId: org.id, apiKeyId: key.id, requestId: `warm-${i}`, customerId: customers[i % customers.length]!, valid: true, photo: b64[i % b64.length] });
        }
      }),
    );
    const inProcRssWarm = rssMb();
    const causesBefore = await fallbackCauses();
    const eld = monitorEventLoopDelay({ resolution: 5 }); // values include the 5 ms sampling interval: conservative
    eld.enable();
    const t0 = performance.now();
    deadline = t0 + SECONDS * 1000;
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    const inProcSeconds = (performance.now() - t0) / 1000;
    eld.disable();
    const inProcRssAfter = rssMb();
    const inProcCauses = diffCauses(await fallbackCauses(), causesBefore);
    await face.close();
    times.sort((a, b) => a - b);
    const inProcRps = times.length / inProcSeconds;

    const templatedPerSecond = (httpCauses.template ?? 0) / SECONDS;
    const templateP50 = templateTimeBefore && templateTimeAfter ? (templateTimeBefore.p50Ms + templateTimeAfter.p50Ms) / 2 : undefined;
    const ceiling = templateP50 ? (FACE.workers * 1000) / templateP50 : undefined;
    const ofCeilingAt = (t: { p50Ms: number } | undefined) => (t ? +(templatedPerSecond / ((FACE.workers * 1000) / t.p50Ms)).toFixed(2) : undefined);
    const report = {
      database: "postgresql",
      photoKbAvg: +avgKb.toFixed(1),
      connections: CONNECTIONS,
      seconds: SECONDS,
      http: {
        requests: http.requests.total,
        non2xx,
        // which statuses, and the client-side failures (no answer in autocannon's 10 s, a broken connection)
        byStatus: Object.fromEntries(
          Object.entries((http as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats).map(([status, v]) => [status, v.count]),
        ),
        errors: http.errors,
        timeouts: http.timeouts,
        rps: +http.requests.average.toFixed(1),
        p50ms: http.latency.p50,
        p99ms: http.latency.p99,
      },
      inProcess: { calls: times.length, rps: +inProcRps.toFixed(1), p50ms: +pct(times, 50).toFixed(1), p99ms: +pct(times, 99).toFixed(1) },
      httpOverhead: { throughputRatio: +(inProcRps / http.requests.average).toFixed(2), p50Ratio: +(http.latency.p50 / pct(times, 50)).toFixed(2) },
      faceEngine: FACE_ENGINE,
      serviceMode: SERVICE_MODE,
      face: { workers: FACE.workers, timeoutMs: FACE.timeoutMs, mallocArenaMax: MALLOC_ARENA_MAX, templateTimeOneWorker: { before: templateTimeBefore, after: templateTimeAfter } },
      throughput: ceiling
        ? {
            templatedVerdictsPerSecond: +templatedPerSecond.toFixed(1),
            ceilingPerSecond: +ceiling.toFixed(1),
            ofCeiling: +(templatedPerSecond / ceiling).toFixed(2),
            // against the ceiling from the template time before the run alone, and after it alone
            ofCeilingBeforeAfter: [ofCeilingAt(templateTimeBefore), ofCeilingAt(templateTimeAfter)],
            targets: {
              ofCeiling: { target: TARGETS.ofCeiling, met: templatedPerSecond / ceiling >= TARGETS.ofCeiling },
              perSecond: { target: TARGETS.perSecond, met: templatedPerSecond >= TARGETS.perSecond },
              serviceRssMb: { target: TARGETS.rssMb, met: serverAfter.rssMb <= TARGETS.rssMb },
            },
          }
        : undefined,
      service: {
        eventLoopDelayMs: serverAfter.eventLoopDelayMs,
        // all threads of the service process (face workers included), per verdict answered: what a quiet
        // machine's throughput can be estimated from (its cores / this), unlike rps on shared cores
        cpuMsPerVerdict: +(serverAfter.cpuMs / Math.max(1, http.requests.total)).toFixed(1),
        rssMb: { afterWarmUp: serverWarm.rssMb, afterRun: serverAfter.rssMb, [`idle${IDLE_SETTLE_MS / 1000}sAfterRun`]: serverIdle.rssMb },
        enrolmentsByFallbackCause: httpCauses,
      },
      inProcessRun: {
        eventLoopDelayMs: { p50: +(eld.percentile(50) / 1e6).toFixed(1), p99: +(eld.percentile(99) / 1e6).toFixed(1), max: +(eld.max / 1e6).toFixed(1) },
        rssMb: { afterWarmUp: inProcRssWarm, afterRun: inProcRssAfter },
        enrolmentsByFallbackCause: inProcCauses,
      },
      eventLoopDelayP99LimitMs: ELD_P99_LIMIT_MS,
    };
    console.log(JSON.stringify(report, null, 2));
    if (non2xx > 0) process.exitCode = 1;
    if (report.service.eventLoopDelayMs.p99 >= ELD_P99_LIMIT_MS || report.inProcessRun.eventLoopDelayMs.p99 >= ELD_P99_LIMIT_MS) {
      console.error(`event-loop delay p99 at or above ${ELD_P99_LIMIT_MS} ms`);
      process.exitCode = 1;
    }
  } finally {
    server?.process.kill("SIGKILL");
    await db.close();
    await database.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

