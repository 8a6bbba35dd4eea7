// npm run bench:attempts — GET /api/identity/attempts at 10 k and at 1 M verification rows of one org.
//
// Each size gets its own fresh PostgreSQL database (created and dropped here), seeded by bulk SQL
// (bench/seed-attempts.ts: generate_series, the schema's real indexes, a neighbour org, VACUUM ANALYZE).
// Each size is served by its own app, and every measurement alternates one request to each size, so both see the same machine load (these machines are shared; p99 drifts with it).
// Timed through the HTTP stack (app.inject: routing, auth, rate limit, zod validation, serialisation),
// filtered by method=nik_dukcapil at limit 20:
//   first page · a deep page reached by cursor · the same deep page reached by page number (OFFSET).
// The deep page is the middle of the filtered rows. Target: p99 of the first page at 1 M <= 1.5 x at 10 k.
//
// Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), BENCH_REQUESTS (1000 per
// measurement and size), BENCH_SIZES (default "10000,1000000": the first is the baseline),
// BENCH_KEEP_DB=1 (keep the databases to inspect plans).
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { buildApp } from "../src/app.js";
import { createSealer, generateSealingKeyEntry, parseSealingKeys } from "../src/crypto/seal.js";
import { openDatabase, type Database } from "../src/db/client.js";
import { faceEngineOff } from "../src/face/engine.js";
import { createServices } from "../src/services.js";
import { SEED_METHODS as METHODS, seedAttempts } from "./seed-attempts.js";

const BASE_URL = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000);
const SIZES = (process.env.BENCH_SIZES ?? "10000,1000000").split(",").map(Number);
const CUSTOMERS = 5_000;
const LIMIT = 20;
const FILTER = `method=nik_dukcapil&limit=${LIMIT}`;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const ms = (n: number) => +n.toFixed(2);

interface ListBody {
  data: { id: string }[];
  total: number;
  meta: { nextCursor: string | null; totalExact: boolean };
}

interface Bench {
  size: number;
  dbName: string;
  db: Database;
  app: FastifyInstance;
  get(query: string): Promise<ListBody>;
  seedSeconds: number;
}

async function seeded(admin: pg.Client, size: number): Promise<Bench> {
  const dbName = `qe_bench_attempts_${size}_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${dbName}`;
  const db = await openDatabase({ kind: "postgres", url: url.toString(), poolMax: 10 });
  await db.migrate();
  const services = createServices({ prisma: db.prisma, sealer: createSealer(parseSealingKeys(generateSealingKeyEntry("bench1"))), face: faceEngineOff });
  const org = await services.orgs.create({ name: "Bench Bank", dukcapilEnabled: true });
  await services.orgs.update(org.id, { limits: { "identity.attempts.list": 100_000 } });
  const key = await services.apiKeys.create({ orgId: org.id, scopes: ["verifications:view"], env: "sandbox" });
  // a second org with its own history, so every query must select the bench org out of a shared table
  const neighbour = await services.orgs.create({ name: "Neighbour Bank" });

  const seedSeconds = await seedAttempts(url.toString(), { orgId: org.id, neighbourId: neighbour.id, keyId: key.id, size, customers: CUSTOMERS });

  const app = await buildApp({ prisma: db.prisma, services, logLevel: "warn" });
  await app.ready();
  const headers = { authorization: `Bearer ${key.key}` };
  const get = async (query: string) => {
    const res = await app.inject({ method: "GET", url: `/api/identity/attempts?${query}`, headers });
    if (res.statusCode !== 200) throw new Error(`${query}: ${res.statusCode} ${res.body}`);
    return res.json() as ListBody;
  };
  return { size, dbName, db, app, get, seedSeconds };
}

/** p50/p99 per size of `queryOf(size)`, one request to each size in turn (order alternating). */
async function timeInterleaved(benches: Bench[], queryOf: (b: Bench) => string) {
  const times = benches.map(() => [] as number[]);
  for (let i = 0; i < 30; i++) for (const b of benches) await b.get(queryOf(b)); // warm-up
  for (let i = 0; i < REQUESTS; i++) {
    const order = i % 2 === 0 ? benches.map((_, j) => j) : benches.map((_, j) => benches.length - 1 - j);
    for (const j of order) {
      const t0 = performance.now();
      await benches[j]!.get(queryOf(benches[j]!));
      times[j]!.push(performance.now() - t0);
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return { p50ms: ms(pct(t, 50)), p99ms: ms(pct(t, 99)) };
  });
}

async function main() {
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  const benches: Bench[] = [];
  try {
    for (const size of SIZES) {
      benches.push(await seeded(admin, size));
      console.error(`seeded ${size} rows in ${benches.at(-1)!.seedSeconds.toFixed(1)} s`);
    }
    const deep = new Map<Bench, { page: number; cursor: string; matching: number; totalExact: boolean }>();
    for (const b of benches) {
      const first = await b.get(FILTER);
      const page = Math.max(2, Math.floor(b.size / METHODS.length / LIMIT / 2));
      // The cursor a client holds after walking to page - 1 is the one page - 1 hands out.
      const cursor = (await b.get(`${FILTER}&page=${page - 1}`)).meta.nextCursor!;
      const viaCursor = await b.get(`${FILTER}&cursor=${cursor}`);
      const viaPage = await b.get(`${FILTER}&page=${page}`);
      if (viaCursor.data.map((d) => d.id).join() !== viaPage.data.map((d) => d.id).join()) throw new Error("cursor and page disagree");
      deep.set(b, { page, cursor, matching: first.total, totalExact: first.meta.totalExact });
    }
    const firstPage = await timeInterleaved(benches, () => FILTER);
    const viaCursor = await timeInterleaved(benches, (b) => `${FILTER}&cursor=${deep.get(b)!.cursor}`);
    const viaPage = await timeInterleaved(benches, (b) => `${FILTER}&page=${deep.get(b)!.page}`);

    const results = benches.map((b, j) => ({
      rows: b.size,
      matching: deep.get(b)!.matching,
      totalExact: deep.get(b)!.totalExact,
      seedSeconds: +b.seedSeconds.toFixed(1),
      deepPage: deep.get(b)!.page,
      firstPage: firstPage[j],
      deepPageViaCursor: viaCursor[j],
      deepPageViaPage: viaPage[j],
    }));
    const ratio = +(firstPage.at(-1)!.p99ms / firstPage[0]!.p99ms).toFixed(2);
    const report = {
      database: "postgresql",
      query: FILTER,
      requestsPerMeasurement: REQUESTS,
      results,
      target: { firstPageP99Ratio: ratio, max: 1.5, met: ratio <= 1.5 },
    };
    console.log(JSON.stringify(report, null, 2));
    if (!report.target.met) process.exitCode = 1;
  } finally {
    for (const b of benches) {
      await b.app.close();
      await b.db.close();
      if (process.env.BENCH_KEEP_DB === "1") console.error(`kept database ${b.dbName}`);
      else await admin.query(`DROP DATABASE IF EXISTS ${b.dbName} WITH (FORCE)`);
    }
    await admin.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
