// npm run bench:ingest — the ingest under load, on PostgreSQL.
//
// 1. Starts the real service (a separate process) on a fresh PostgreSQL database and drives
//    POST /api/identity/nik/dukcapil with autocannon: ~100 KB JPEG photos, many customers, one org whose
//    limit is raised so the bench measures the service, not the rate limiter.
// 2. In the same run, times the same work in-process without HTTP (decode + validate + seal + transaction)
//    through the service layer, so the HTTP overhead shows as a ratio.
//
// Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS (15),
// BENCH_CONNECTIONS (8), BENCH_CUSTOMERS (200).
import { spawn, type ChildProcess } from "node:child_process";

import { once } from "node:events";
import net from "node:net";
import path from "node:path";
import autocannon from "autocannon";
import pg from "pg";
import sharp from "sharp";
import { createSealer, generateSealingKeyEntry, parseSealingKeys } from "../src/crypto/seal.js";
import { openDatabase } from "../src/db/client.js";
import { faceEngineOff } from "../src/face/engine.js";
import { createServices } from "../src/services.js";

const BASE_URL = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 200);
const ROOT = path.resolve(import.meta.dirname, "..");

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** A ~100 KB JPEG: a smooth portrait-like gradient with noise, which JPEG cannot squeeze much. */
async function photo(seed: number): Promise<Buffer> {
  const w = 520, h = 640;
  const raw = Buffer.alloc(w * h * 3);
  let s = seed;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    raw[i] = (i % 3 === 0 ? 120 + ((i / 3) % w) / 5 : 90) + ((s >> 24) % 48);
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 86 }).toBuffer();
}

async function main() {
  const dbName = `qe_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${dbName}`;
  const sealingKeys = generateSealingKeyEntry("bench1");
  let server: ChildProcess | undefined;
  const db = await openDatabase({ kind: "postgres", url: url.toString(), poolMax: 10 });
  try {
    await db.migrate();
    const sealer = createSealer(parseSealingKeys(sealingKeys));
    const services = createServices({ prisma: db.prisma, sealer, face: faceEngineOff });
    const org = await services.orgs.create({ name: "Bench Bank", dukcapilEnabled: true });
    await services.orgs.update(org.id, { limits: { "identity.nik.dukcapil": 100_000 } });
    const key = await services.apiKeys.create({ orgId: org.id, scopes: ["verifications:view"], env: "sandbox" });
    const customers: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) customers.push((await services.customers.create(org.id, {})).id);
    const photos = await Promise.all([1, 2, 3, 4].map((s) => photo(s)));
    const avgKb = photos.reduce((a, p) => a + p.length, 0) / photos.length / 1024;
    const bodies = customers.map((customerId, i) =>
      JSON.stringify({ customerId, valid: true, photo: photos[i % photos.length]!.toString("base64"), raw: { nik: "3171000000000000", i } }),
    );

    // --- over HTTP, against the real service process
    const port = await freePort();
    server = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "production", DATABASE_URL: url.toString(), SEALING_KEYS: sealingKeys, PORT: String(port), LOG_LEVEL: "warn", FACE_ENGINE: process.env.FACE_ENGINE ?? "off" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 300) throw new Error("service did not become ready");
      await new Promise((r) => setTimeout(r, 100));
    }
    const headers = { authorization: `Bearer ${key.key}`, "content-type": "application/json" };
    // warm-up
    await autocannon({ url: base, connections: 2, amount: 40, requests: bodies.slice(0, 40).map((body) => ({ method: "POST", path: "/api/identity/nik/dukcapil", headers, body })) });
    const http = await autocannon({
      url: base,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: bodies.map((body) => ({ method: "POST", path: "/api/identity/nik/dukcapil", headers, body })),
    });
    const non2xx = http.non2xx + http.errors + http.timeouts;
    server.kill("SIGTERM");
    await once(server, "exit");
    server = undefined;

    // --- in-process, no HTTP: the same service call, same concurrency
    const times: number[] = [];
    const b64 = photos.map((p) => p.toString("base64"));
    let n = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        const i = n++;
        const t = performance.now();
        await services.dukcapil.ingest({
          orgId: org.id, apiKeyId: key.id, requestId: `bench-${i}`, customerId: customers[i % customers.length]!,
          valid: true, photo: b64[i % b64.length], rawText: JSON.stringify({ nik: "3171000000000000", i }),
        });
        times.push(performance.now() - t);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    const inProcSeconds = (performance.now() - t0) / 1000;
    times.sort((a, b) => a - b);
    const inProcRps = times.length / inProcSeconds;

    const report = {
      database: "postgresql",
      photoKbAvg: +avgKb.toFixed(1),
      connections: CONNECTIONS,
      seconds: SECONDS,
      http: { requests: http.requests.total, non2xx, rps: +http.requests.average.toFixed(1), p50ms: http.latency.p50, p99ms: http.latency.p99 },
      inProcess: { calls: times.length, rps: +inProcRps.toFixed(1), p50ms: +pct(times, 50).toFixed(1), p99ms: +pct(times, 99).toFixed(1) },
      httpOverhead: { throughputRatio: +(inProcRps / http.requests.average).toFixed(2), p50Ratio: +(http.latency.p50 / pct(times, 50)).toFixed(2) },
    };
    console.log(JSON.stringify(report, null, 2));
    if (non2xx > 0) process.exitCode = 1;
  } finally {
    server?.kill("SIGKILL");
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

