// bench:face-match, under load: POST /api/identity/face/match through the real service (a separate process,
// default settings, on a fresh PostgreSQL database), then the same burst of matches with verdicts arriving
// meanwhile, since the ingest and the match share the face workers.
//
// 1. Customers each get a Dukcapil reference through the ingest (set B's r1c01: the evaluation set's man),
//    then autocannon sends selfies for them: set B's other photos of him (genuine) and set M's other men
//    (impostors), for BENCH_SECONDS at BENCH_CONNECTIONS. Reported: requests/s, p50/p99, statuses, verified
//    and failed counts, the service's event-loop delay p99 (limit 50 ms), CPU per match, RSS after warm-up,
//    after the run and idle after it, and matches/s against the engine's ceiling (FACE_WORKERS / template time).
// 2. Matches at twice the connections while verdicts keep arriving (a quarter of the connections): every
//    verdict's enrolment must still get its template; one that became a `timeout` stub means matches took the
//    workers from enrolments (the engine serves enrolments first). Matches refused with 503 meanwhile are
//    counted: under overload a match is refused, a verdict never is.
// Exit 1 when the event-loop delay p99 reaches 50 ms, or when a verdict's enrolment became a timeout stub.
import autocannon from "autocannon";
import { createSealer, generateSealingKeyEntry, parseSealingKeys } from "../src/crypto/seal.js";
import { openDatabase } from "../src/db/client.js";
import { faceEngineOff } from "../src/face/engine.js";
import { createServices } from "../src/services.js";
import { SET_B_IDS, SET_M_IDS, setBPhoto, setMPhoto } from "../test/face/eval-set.js";
import { benchDatabase, SERVICE_MODE, startBenchService } from "./service.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 40);
const ELD_P99_LIMIT_MS = 50;
const IDLE_SETTLE_MS = 10_000;
const MATCH = "/api/identity/face/match";
const INGEST = "/api/identity/nik/dukcapil";

type Cannon = Awaited<ReturnType<typeof autocannon>>;
const statuses = (r: Cannon) =>
  Object.fromEntries(Object.entries((r as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats).map(([s, v]) => [s, v.count]));

export interface MatchLoadReport {
  matches: Record<string, unknown>;
  withVerdicts: Record<string, unknown>;
  failures: string[];
}

/** `templateMs`: one worker's p50 time per template, measured by the caller (bench:face-match) on the same photos' kind. */
export async function runMatchLoad(templateMs: number): Promise<MatchLoadReport> {
  const database = await benchDatabase("match");
  const sealingKeys = generateSealingKeyEntry("bench1");
  const db = await openDatabase({ kind: "postgres", url: database.url, poolMax: 5 });
  let service: Awaited<ReturnType<typeof startBenchService>> | undefined;
  try {
    await db.migrate();
    const setup = createServices({ prisma: db.prisma, sealer: createSealer(parseSealingKeys(sealingKeys)), face: faceEngineOff });
    const org = await setup.orgs.create({ name: "Bench Bank", dukcapilEnabled: true });
    await setup.orgs.update(org.id, { limits: { "identity.nik.dukcapil": 100_000, "identity.face.match": 100_000 } });
    const key = await setup.apiKeys.create({ orgId: org.id, scopes: ["verifications:view"], env: "sandbox" });
    const customers: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) customers.push((await setup.customers.create(org.id, {})).id);
    const reference = (await setBPhoto(SET_B_IDS[0]!)).toString("base64");
    const genuine = await Promise.all(SET_B_IDS.slice(1).map(async (id) => (await setBPhoto(id)).toString("base64")));
    const impostors = await Promise.all(SET_M_IDS.map(async (id) => (await setMPhoto(id)).toString("base64")));
    const selfies = [...genuine, ...impostors];

    service = await startBenchService({ databaseUrl: database.url, sealingKeys });
    const headers = { authorization: `Bearer ${key.key}`, "content-type": "application/json" };
    for (const customerId of customers) {
      const res = await fetch(`${service.base}${INGEST}`, { method: "POST", headers, body: JSON.stringify({ customerId, valid: true, photo: reference }) });
      if (res.status !== 201) throw new Error(`reference enrolment: ${res.status} ${await res.text()}`);
    }
    const matchRequests = customers.flatMap((customerId) => selfies.map((photo) => ({ method: "POST" as const, path: MATCH, headers, body: JSON.stringify({ customerId, photo }) })));
    const countMatches = async () => {
      const rows = await db.prisma.verification.groupBy({ by: ["status"], where: { method: "face_match" }, _count: { _all: true } });
      return Object.fromEntries(rows.map((r) => [r.status, r._count._all])) as Record<string, number>;
    };

    // --- 1. matches alone
    await autocannon({ url: service.base, connections: 2, amount: 20, requests: matchRequests.slice(0, 20) }); // warm-up
    const warm = await service.probe("probe:reset");
    const before = await countMatches();
    const run = await autocannon({ url: service.base, connections: CONNECTIONS, duration: SECONDS, requests: matchRequests });
    const after = await service.probe("probe:report");
    const counted = await countMatches();
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const idle = await service.probe("probe:report");
    const recorded = { verified: (counted.verified ?? 0) - (before.verified ?? 0), failed: (counted.failed ?? 0) - (before.failed ?? 0) };
    const perSecond = (recorded.verified + recorded.failed) / SECONDS;
    const workers = Number(process.env.FACE_WORKERS ?? 1);
    const ceiling = (workers * 1000) / templateMs;
    const matches = {
      connections: CONNECTIONS,
      seconds: SECONDS,
      requests: run.requests.total,
      byStatus: statuses(run),
      errors: run.errors,
      timeouts: run.timeouts,
      rps: +run.requests.average.toFixed(1),
      p50ms: run.latency.p50,
      p99ms: run.latency.p99,
      recorded,
      matchesPerSecond: +perSecond.toFixed(1),
      ceilingPerSecond: +ceiling.toFixed(1),
      ofCeiling: +(perSecond / ceiling).toFixed(2),
      service: {
        eventLoopDelayMs: after.eventLoopDelayMs,
        cpuMsPerMatch: +(after.cpuMs / Math.max(1, run.requests.total)).toFixed(1),
        rssMb: { afterWarmUp: warm.rssMb, afterRun: after.rssMb, [`idle${IDLE_SETTLE_MS / 1000}sAfterRun`]: idle.rssMb, peak: after.maxRssMb },
      },
    };

    // --- 2. a burst of matches while verdicts arrive
    const stubsBefore = await db.prisma.faceEnrolment.count({ where: { fallbackCause: "timeout" } });
    const enrolledBefore = await db.prisma.faceEnrolment.count();
    await service.probe("probe:reset");
    const verdictRequests = customers.map((customerId) => ({ method: "POST" as const, path: INGEST, headers, body: JSON.stringify({ customerId, valid: true, photo: reference }) }));
    const [burst, verdicts] = await Promise.all([
      autocannon({ url: service.base, connections: CONNECTIONS * 2, duration: SECONDS, requests: matchRequests }),
      autocannon({ url: service.base, connections: Math.max(1, CONNECTIONS / 4), duration: SECONDS, requests: verdictRequests }),
    ]);
    const mixed = await service.probe("probe:report");
    const timeoutStubs = (await db.prisma.faceEnrolment.count({ where: { fallbackCause: "timeout" } })) - stubsBefore;
    const enrolled = (await db.prisma.faceEnrolment.count()) - enrolledBefore;
    const withVerdicts = {
      matchConnections: CONNECTIONS * 2,
      verdictConnections: Math.max(1, CONNECTIONS / 4),
      matches: { requests: burst.requests.total, byStatus: statuses(burst), p50ms: burst.latency.p50, p99ms: burst.latency.p99 },
      verdicts: { requests: verdicts.requests.total, byStatus: statuses(verdicts), p50ms: verdicts.latency.p50, p99ms: verdicts.latency.p99, enrolments: enrolled, timeoutStubs },
      service: { eventLoopDelayMs: mixed.eventLoopDelayMs, rssMb: mixed.rssMb, peakRssMb: mixed.maxRssMb },
    };

    const failures = [
      matches.service.eventLoopDelayMs.p99 >= ELD_P99_LIMIT_MS && `event-loop delay p99 ${matches.service.eventLoopDelayMs.p99} ms under matches (limit ${ELD_P99_LIMIT_MS})`,
      mixed.eventLoopDelayMs.p99 >= ELD_P99_LIMIT_MS && `event-loop delay p99 ${mixed.eventLoopDelayMs.p99} ms under matches and verdicts (limit ${ELD_P99_LIMIT_MS})`,
      timeoutStubs > 0 && `${timeoutStubs} verdict enrolment(s) became timeout stubs while matches ran`,
    ].filter((f): f is string => typeof f === "string");
    return { matches: { serviceMode: SERVICE_MODE, ...matches }, withVerdicts, failures };
  } finally {
    await service?.stop();
    await db.close();
    await database.drop();
  }
}
