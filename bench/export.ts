// npm run bench:export — the full CSV export of 1 M attempts (GET /api/identity/attempts/export), on PostgreSQL.
//
// Seeds a fresh database with 1 M attempts of one org (plus a neighbour org with 100 k) by bulk SQL
// (bench/seed-attempts.ts), starts the real service as its own process (node src/server.ts with
// bench/server-probe.mjs loaded, which reports that process's RSS over IPC), warms it up with a small export,
// then downloads the whole export over HTTP and reads it as fast as it arrives. Printed: rows, seconds,
// rows/s, time to first byte, MB, and the service's RSS before the export, its peak while the export ran
// (sampled every 100 ms) and the growth. Target: the whole export in under 60 s, RSS growth under 50 MB
// (exits 1 otherwise). The rows are checked: header, count, newest first.
//
// Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), BENCH_ROWS (1000000),
// BENCH_KEEP_DB=1 (keep the database), BENCH_REUSE_DB=<name> (export from a database a BENCH_KEEP_DB run
// left, without seeding it again), BENCH_NODE_FLAGS (extra node/V8 flags for the service process, e.g.
// "--heap-growing-percent=30", to see how V8's heap sizing moves the RSS figure).
import { createSealer, generateSealingKeyEntry, parseSealingKeys } from "../src/crypto/seal.js";
import { openDatabase } from "../src/db/client.js";
import { faceEngineOff } from "../src/face/engine.js";
import { ATTEMPTS_CSV_HEADER } from "../src/modules/attempts/attempts-schemas.js";
import { createServices } from "../src/services.js";
import { seedAttempts } from "./seed-attempts.js";
import { benchDatabase, startBenchService, type BenchService } from "./service.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const TARGET = { seconds: 60, rssGrowthMb: 50 };

/** Downloads an export, counting rows as the bytes arrive (nothing kept but the first and last lines). */
async function download(url: string, key: string) {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let firstByteMs: number | undefined;
  let bytes = 0;
  let lines = 0;
  let head = "";
  let tail = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    firstByteMs ??= performance.now() - t0;
    bytes += value.byteLength;
    const text = decoder.decode(value, { stream: true });
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lines++;
    if (head.length < 400) head += text.slice(0, 400);
    tail = (tail + text).slice(-400);
  }
  return { seconds: (performance.now() - t0) / 1000, firstByteMs: firstByteMs ?? 0, bytes, rows: lines - 1, head, tail, type: res.headers.get("content-type") };
}

async function main() {
  const reuse = process.env.BENCH_REUSE_DB;
  const database = await benchDatabase("export", { reuse, keep: process.env.BENCH_KEEP_DB === "1" });
  const sealingKeys = generateSealingKeyEntry("bench1");
  const db = await openDatabase({ kind: "postgres", url: database.url, poolMax: 5 });
  let server: BenchService | undefined;
  try {
    await db.migrate();
    const services = createServices({ prisma: db.prisma, sealer: createSealer(parseSealingKeys(sealingKeys)), face: faceEngineOff });
    const existing = reuse ? await db.prisma.org.findFirst({ where: { name: "Bench Bank" } }) : null;
    const org = existing ?? (await services.orgs.create({ name: "Bench Bank", dukcapilEnabled: true }));
    const key = await services.apiKeys.create({ orgId: org.id, scopes: ["verifications:view"], env: "sandbox" });
    if (!existing) {
      const neighbour = await services.orgs.create({ name: "Neighbour Bank" });
      const seedSeconds = await seedAttempts(database.url, { orgId: org.id, neighbourId: neighbour.id, keyId: key.id, size: ROWS, customers: 5_000 });
      console.error(`seeded ${ROWS} rows in ${seedSeconds.toFixed(1)} s`);
    }
    await db.close();

    server = await startBenchService({
      databaseUrl: database.url,
      sealingKeys,
      mode: "source",
      nodeFlags: ["--expose-gc", ...(process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [])],
      env: { FACE_ENGINE: "off" },
    });
    const base = server.base;
    // warm-up: two small exports (JIT, connection pool)
    for (let i = 0; i < 2; i++) await download(`${base}/api/identity/attempts/export?from=2024-12-01T00:00:00Z`, key.key);
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await server.probe();

    let peakRssMb = before.rssMb;
    let peakHeap = before.heapMb;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const p = await server!.probe();
        if (p.rssMb > peakRssMb) peakHeap = p.heapMb;
        peakRssMb = Math.max(peakRssMb, p.rssMb);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const full = await download(`${base}/api/identity/attempts/export`, key.key);
    sampling = false;
    await sampler;
    const after = await server.probe();
    const afterGc = await server.probe("probe:gc");

    if (!full.head.startsWith(`${ATTEMPTS_CSV_HEADER}\r\n`)) throw new Error(`unexpected header: ${full.head.slice(0, 100)}`);
    if (full.rows !== ROWS) throw new Error(`expected ${ROWS} rows, got ${full.rows}`);
    const newest = full.head.split("\r\n")[1]!.split(",")[0];
    if (newest !== `ver_bench${String(ROWS).padStart(22, "0")}`) throw new Error(`not newest first: ${newest}`);

    const growth = peakRssMb - before.rssMb;
    const report = {
      database: "postgresql",
      rows: full.rows,
      megabytes: +(full.bytes / 1024 / 1024).toFixed(1),
      seconds: +full.seconds.toFixed(2),
      rowsPerSecond: Math.round(full.rows / full.seconds),
      timeToFirstByteMs: +full.firstByteMs.toFixed(1),
      contentType: full.type,
      service: {
        rssMb: { beforeExport: before.rssMb, peakDuringExport: peakRssMb, afterExport: after.rssMb, growth },
        maxRssMbLifetime: after.maxRssMb,
        heapMb: { beforeExport: before.heapMb, atPeak: peakHeap, afterExport: after.heapMb, afterExportAndFullGc: afterGc.heapMb },
      },
      target: { ...TARGET, met: full.seconds < TARGET.seconds && growth < TARGET.rssGrowthMb },
      nodeFlags: process.env.BENCH_NODE_FLAGS ?? "",
      note: "shared 2-core machine: figures are provisional",
    };
    console.log(JSON.stringify(report, null, 2));
    if (!report.target.met) process.exitCode = 1;
    await server.stop();
    server = undefined;
  } finally {
    server?.process.kill("SIGKILL");
    await db.close().catch(() => {});
    await database.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
