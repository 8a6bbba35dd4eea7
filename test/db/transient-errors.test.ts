// Database errors that are the database's state, not a bug, never reach a client as a 500: a serialization
// failure or a deadlock is retried (the verdict's transaction is one unit, its idempotent response included),
// everything else is a 503 with Retry-After, with nothing written. Provoked for real: triggers that raise a
// given SQLSTATE at INSERT or at COMMIT (both databases, through each driver's real error path), and on
// PostgreSQL a real deadlock, a pool with its only connection held, a row lock held past the transaction's
// timeout, a connection terminated mid-query, and a role over its connection limit.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { openDatabase } from "../../src/db/client.js";
import { databaseFailureOf } from "../../src/db/errors.js";
import { TRANSACTION_ATTEMPTS } from "../../src/db/transaction.js";
import { createServices } from "../../src/services.js";
import { faceEngineOff } from "../../src/face/engine.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { testDbKind } from "../helpers/db.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000 } });
  // A verdict whose reason is "<when> <SQLSTATE> <n>" makes the database raise that SQLSTATE on its first n
  // attempts: "insert" while the row is written, "commit" at COMMIT (a deferred trigger). The sequence counts
  // attempts across rollbacks (sequences are not transactional). "<when> sleep <seconds>" makes it slow.
  await ctx.prisma.$executeRawUnsafe(`CREATE SEQUENCE qe_raise_attempts`);
  await ctx.prisma.$executeRawUnsafe(`CREATE FUNCTION qe_raise() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE parts text[] := string_to_array(NEW.reason, ' ');
    BEGIN
      IF parts[1] = TG_ARGV[0] AND parts[2] = 'sleep' THEN
        PERFORM pg_sleep(parts[3]::float);
      ELSIF parts[1] = TG_ARGV[0] AND nextval('qe_raise_attempts') <= parts[3]::int THEN
        RAISE EXCEPTION 'raised by the test (%)', parts[2] USING ERRCODE = parts[2];
      END IF;
      RETURN NULL;
    END $$`);
  await ctx.prisma.$executeRawUnsafe(`CREATE TRIGGER qe_raise_insert AFTER INSERT ON verifications FOR EACH ROW EXECUTE FUNCTION qe_raise('insert')`);
  await ctx.prisma.$executeRawUnsafe(`CREATE CONSTRAINT TRIGGER qe_raise_commit AFTER INSERT ON verifications
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION qe_raise('commit')`);
});
afterAll(() => ctx.close());

const attempts = async () => Number((await ctx.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT last_value AS n FROM qe_raise_attempts`))[0]!.n);
const resetAttempts = () => ctx.prisma.$queryRawUnsafe(`SELECT setval('qe_raise_attempts', 1, false)`);
const rows = async (reason: string) => ({
  verifications: await ctx.prisma.verification.count({ where: { reason } }),
  keys: await ctx.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM idempotency_keys WHERE org_id = $1`, bank.orgId).then((r) => Number(r[0]!.n)),
});

function expect503(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, kind: "busy" | "unavailable", what: string) {
  expect(res.statusCode, what).toBe(503);
  expect(res.json(), what).toEqual({ error: `database ${kind}; retry later`, code: "unavailable", requestId: res.headers["x-request-id"] });
  expect(res.headers["retry-after"], what).toBe(kind === "busy" ? "2" : "5");
}

describe("serialization failures and deadlocks are retried: the verdict is recorded once", () => {
  it.each([
    ["insert", "40001"],
    ["commit", "40001"],
    ["insert", "40P01"],
    ["commit", "40P01"],
  ])("%s %s once: 201, one verification, and an Idempotency-Key replays it", async (when, state) => {
    await resetAttempts();
    const customerId = await bank.customer();
    const reason = `${when} ${state} 1`;
    const key = `retry-${randomBytes(6).toString("hex")}`;
    const res = await bank.post(INGEST, { customerId, valid: false, reason }, { "idempotency-key": key });
    expect(res.statusCode, res.body).toBe(201);
    expect(await attempts()).toBe(2); // one refused, one committed
    expect((await rows(reason)).verifications).toBe(1);
    const replay = await bank.post(INGEST, { customerId, valid: false, reason }, { "idempotency-key": key });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.body).toBe(res.body);
    expect((await rows(reason)).verifications).toBe(1);
  });

  it(`one that persists through ${TRANSACTION_ATTEMPTS} attempts is a 503 busy with nothing written; the key is free for the retry`, async () => {
    await resetAttempts();
    const customerId = await bank.customer();
    const reason = `commit 40001 ${TRANSACTION_ATTEMPTS}`;
    const key = `retry-${randomBytes(6).toString("hex")}`;
    const before = await rows(reason);
    const res = await bank.post(INGEST, { customerId, valid: false, reason }, { "idempotency-key": key });
    expect503(res, "busy", reason);
    expect(await attempts()).toBe(TRANSACTION_ATTEMPTS);
    expect(await rows(reason)).toEqual(before); // no verification, and the key was released
    const retry = await bank.post(INGEST, { customerId, valid: false, reason }, { "idempotency-key": key });
    expect(retry.statusCode, retry.body).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBeUndefined();
    expect((await rows(reason)).verifications).toBe(1);
  });
});

describe("every other database failure is a 503 with Retry-After, never a 500, and writes nothing", () => {
  const cases: [string, "busy" | "unavailable"][] = [
    ["55P03", "busy"], // lock_not_available (lock_timeout)
    ["57014", "busy"], // query_canceled (statement_timeout)
    ["53300", "busy"], // too_many_connections
    ["53200", "busy"], // out_of_memory
    ["53100", "busy"], // disk_full
    ["40003", "busy"], // statement_completion_unknown
    ["25P03", "busy"], // idle_in_transaction_session_timeout
    ["57P01", "unavailable"], // admin_shutdown
    ["57P03", "unavailable"], // cannot_connect_now
    ["08006", "unavailable"], // connection_failure
    ["25006", "unavailable"], // read_only_sql_transaction: a standby after a failover
    ["58030", "unavailable"], // io_error
  ];
  it.each(cases.flatMap(([state, kind]) => (["insert", "commit"] as const).map((when) => [when, state, kind] as const)))(
    "%s %s: 503 %s",
    async (when, state, kind) => {
      await resetAttempts();
      const customerId = await bank.customer();
      const reason = `${when} ${state} 1`;
      const res = await bank.post(INGEST, { customerId, valid: false, reason });
      expect503(res, kind, reason);
      expect(await attempts()).toBe(1); // not retried: only conflicts are
      expect((await rows(reason)).verifications).toBe(0);
      expect(JSON.stringify(res.json())).not.toMatch(/raised by the test|[0-9A-Z]{5}\)/);
    },
  );

  it("a real bug (an exception the database raises for no reason of its own) stays a 500 in the error shape", async () => {
    await resetAttempts();
    const res = await bank.post(INGEST, { customerId: await bank.customer(), valid: false, reason: "commit P0001 1" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: "internal error", code: "internal", requestId: res.headers["x-request-id"] });
  });
});

describe("a transaction that outlives its timeout, or cannot start in time", () => {
  // Short limits, so the test does not wait out the service's (8 s to start, 10 s to run on PostgreSQL).
  let short: TestContext;
  let t: Tenant;
  beforeAll(async () => {
    short = await createTestContext({ db: { poolMax: 1, transactions: { maxWait: 300, timeout: 600 } } });
    t = await short.tenant();
    // (the trigger lives in the other database: this context has a database of its own)
    await short.prisma.$executeRawUnsafe(`CREATE FUNCTION qe_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.reason = 'slow insert' THEN PERFORM pg_sleep(1.2); END IF; RETURN NULL; END $$`);
    // while the row is written (a COMMIT already under way is let finish: it may have committed)
    await short.prisma.$executeRawUnsafe(`CREATE TRIGGER qe_slow AFTER INSERT ON verifications FOR EACH ROW EXECUTE FUNCTION qe_slow()`);
  });
  afterAll(() => short.close());

  // (PGlite runs a statement on the event loop, so its transactions cannot be overtaken by their timeout mid-statement)
  it.runIf(testDbKind === "postgres")("one that runs past its timeout is a 503 busy with nothing written; the next verdict goes through", async () => {
    const customerId = await t.customer();
    const res = await t.post(INGEST, { customerId, valid: false, reason: "slow insert" });
    expect503(res, "busy", "past its timeout");
    expect(await short.prisma.verification.count({ where: { reason: "slow insert" } })).toBe(0);
    const next = await t.post(INGEST, { customerId, valid: false, reason: "afterwards" });
    expect(next.statusCode, next.body).toBe(201);
  });

  it("one that cannot start in time (Prisma's P2028) is classified busy: a 503, never a 500", async () => {
    // the only connection (PostgreSQL: a pool of one; PGlite: its one connection) held by another transaction
    const held = short.prisma.$transaction(async (tx) => {
      await tx.$queryRawUnsafe("SELECT 1");
      await new Promise((r) => setTimeout(r, 1_000));
    }, { maxWait: 2_000, timeout: 5_000 });
    await new Promise((r) => setTimeout(r, 50));
    const err = await short.prisma.$transaction(async (tx) => tx.$queryRawUnsafe("SELECT 1")).then(
      () => undefined,
      (e: unknown) => e,
    );
    await held;
    expect(err).toMatchObject({ code: "P2028", message: expect.stringMatching(/Unable to start a transaction in the given time/) });
    expect(databaseFailureOf(err)).toBe("busy");
  });

  it("so is one used after its timeout expired (P2028, the variant that used to be a 500)", async () => {
    const err = await short.prisma
      .$transaction(async (tx) => {
        await new Promise((r) => setTimeout(r, 900));
        await tx.$queryRawUnsafe("SELECT 1");
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: "P2028", message: expect.stringMatching(/expired transaction/) });
    expect(databaseFailureOf(err)).toBe("busy");
  });
});

describe.runIf(testDbKind === "postgres")("PostgreSQL, for real", () => {
  it("a real deadlock with another session: the verdict's transaction is chosen, retried, and recorded once", async () => {
    const customerId = await bank.customer();
    const other = new pg.Client({ connectionString: ctx.db.url });
    await other.connect();
    try {
      await other.query("SET deadlock_timeout = '10s'"); // so PostgreSQL picks the verdict's backend as the victim
      await other.query("BEGIN");
      await other.query("LOCK TABLE verifications IN EXCLUSIVE MODE"); // the verdict will wait for this after locking its customer
      const pending = bank.post(INGEST, { customerId, valid: false, reason: "deadlocked once" });
      const waiting = async () =>
        Number(
          (await other.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`))
            .rows[0].n,
        );
      for (let i = 0; (await waiting()) === 0; i++) {
        if (i > 100) throw new Error("the verdict never waited for the table lock");
        await new Promise((r) => setTimeout(r, 20));
      }
      // now take the customer's row: a cycle; the verdict's backend detects it after 1 s and is rolled back
      const rowLock = other.query("SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", [customerId]);
      await rowLock;
      await other.query("COMMIT");
      const res = await pending;
      expect(res.statusCode, res.body).toBe(201);
      expect(await ctx.prisma.verification.count({ where: { reason: "deadlocked once" } })).toBe(1);
    } finally {
      await other.end();
    }
  });

  it("a pool whose only connection is held: 503 busy after the pool's 3 s, then served again", async () => {
    const tiny = await createTestContext({ db: { poolMax: 1 } });
    try {
      const t = await tiny.tenant();
      const held = tiny.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe("SELECT 1");
        await new Promise((r) => setTimeout(r, 4_000)); // holding the connection, idle in the transaction
      });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const res = await tiny.app.inject({ method: "GET", url: "/api/identity/attempts", headers: t.auth });
      expect503(res, "busy", "pool exhausted");
      expect(Date.now() - started).toBeLessThan(4_000);
      await held;
      expect((await tiny.app.inject({ method: "GET", url: "/api/identity/attempts", headers: t.auth })).statusCode).toBe(200);
    } finally {
      await tiny.close();
    }
  });

  it("the connection is terminated mid-query: 503 unavailable, nothing written, and the pool recovers", async () => {
    const customerId = await bank.customer();
    const other = new pg.Client({ connectionString: ctx.db.url });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", [customerId]);
      const pending = bank.post(INGEST, { customerId, valid: false, reason: "terminated mid-query" });
      let victim: number | undefined;
      for (let i = 0; !victim; i++) {
        if (i > 100) throw new Error("the verdict never waited for the row lock");
        await new Promise((r) => setTimeout(r, 20));
        const { rows: r } = await other.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`);
        victim = r[0]?.pid as number | undefined;
      }
      await other.query("SELECT pg_terminate_backend($1)", [victim]);
      const res = await pending;
      expect503(res, "unavailable", "terminated");
      await other.query("COMMIT");
      expect(await ctx.prisma.verification.count({ where: { reason: "terminated mid-query" } })).toBe(0);
      const next = await bank.post(INGEST, { customerId, valid: false, reason: "after the termination" });
      expect(next.statusCode, next.body).toBe(201);
    } finally {
      await other.end();
    }
  });

  it("too many connections (a role at its connection limit): 503 busy", async () => {
    const role = `qe_limited_${randomBytes(4).toString("hex")}`;
    await ctx.prisma.$executeRawUnsafe(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
    await ctx.prisma.$executeRawUnsafe(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    const url = new URL(ctx.db.url!);
    url.username = role;
    const holder = new pg.Client({ connectionString: url.toString() });
    const db = await openDatabase({ kind: "postgres", url: url.toString(), poolMax: 2 });
    const app = await buildApp({ prisma: db.prisma, services: createServices({ prisma: db.prisma, sealer: ctx.sealer, face: faceEngineOff }), logLevel: "silent" });
    try {
      await holder.connect(); // the role's one connection
      const res = await app.inject({ method: "GET", url: "/api/identity/attempts", headers: bank.auth });
      expect503(res, "busy", "too many connections");
    } finally {
      await holder.end().catch(() => {});
      await app.close();
      await db.close();
      await ctx.prisma.$executeRawUnsafe(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`);
      await ctx.prisma.$executeRawUnsafe(`DROP ROLE ${role}`);
    }
  });
});
