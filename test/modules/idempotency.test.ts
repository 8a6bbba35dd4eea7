import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIdempotencyService } from "../../src/modules/idempotency/idempotency-service.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";

const INGEST = "/api/identity/nik/dukcapil";
const CUSTOMERS = "/api/customers";
let ctx: TestContext;
let bank: Tenant;
let photo: string;
let seq = 0;
const newKey = () => `idem-${Date.now()}-${seq++}`;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000, "customers.create": 10_000 } });
  photo = b64(await jpeg());
});
afterAll(() => ctx.close());

async function rowCounts() {
  const p = ctx.prisma;
  return {
    customers: await p.customer.count(),
    verifications: await p.verification.count(),
    enrolments: await p.faceEnrolment.count(),
    tierEvents: await p.tierEvent.count(),
  };
}

const keyRow = (orgId: string, key: string) => ctx.prisma.idempotencyKey.findUnique({ where: { orgId_key: { orgId, key } } });

describe("Idempotency-Key: replay", () => {
  it("a retry of a verdict with the same key and body replays the first response and writes nothing", async () => {
    const customerId = await bank.customer();
    const key = newKey();
    const payload = { customerId, valid: true, photo, raw: { result: "MATCH" } };
    const first = await bank.post(INGEST, payload, { "idempotency-key": key });
    expect(first.statusCode).toBe(201);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const before = await rowCounts();

    for (let i = 0; i < 3; i++) {
      const again = await bank.post(INGEST, payload, { "idempotency-key": key });
      expect(again.statusCode).toBe(201);
      expect(again.headers["idempotent-replayed"]).toBe("true");
      expect(again.body).toBe(first.body);
    }
    expect(await rowCounts()).toEqual(before);
    expect(await ctx.prisma.verification.count({ where: { customerId } })).toBe(1);

    const row = await keyRow(bank.orgId, key);
    expect(row).toMatchObject({ state: "completed", statusCode: 201, route: `POST ${INGEST}` });
    expect(row!.responseBody).toBe(first.body); // the exact text sent
    // kept at least 24 h
    expect(row!.expiresAt.getTime() - row!.createdAt.getTime()).toBeGreaterThanOrEqual(24 * 3600 * 1000);
  });

  it("the verdict's response is recorded in the verdict's own transaction", async () => {
    const customerId = await bank.customer();
    const key = newKey();
    // A trigger that refuses to complete the key unless this customer's verification row was inserted by the
    // same transaction (its xmin is the current transaction id): completing after the commit would fail.
    await ctx.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION qe_test_idem_check() RETURNS trigger AS $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM verifications WHERE customer_id = '${customerId}' AND xmin = pg_current_xact_id()::xid) THEN
          RAISE EXCEPTION 'idempotency key completed outside the verdict transaction';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await ctx.prisma.$executeRawUnsafe(
      `CREATE TRIGGER qe_test_idem_check BEFORE UPDATE ON idempotency_keys FOR EACH ROW WHEN (NEW.key = '${key}') EXECUTE FUNCTION qe_test_idem_check()`,
    );
    try {
      const res = await bank.post(INGEST, { customerId, valid: false, reason: "no match" }, { "idempotency-key": key });
      expect(res.statusCode).toBe(201);
      expect(await keyRow(bank.orgId, key)).toMatchObject({ state: "completed", statusCode: 201, responseBody: res.body });
    } finally {
      await ctx.prisma.$executeRawUnsafe(`DROP TRIGGER qe_test_idem_check ON idempotency_keys`);
    }
  });

  it("a retry of POST /api/customers replays the created customer instead of creating another", async () => {
    const key = newKey();
    const first = await bank.post(CUSTOMERS, {}, { "idempotency-key": key });
    expect(first.statusCode).toBe(201);
    const before = await rowCounts();
    const again = await bank.post(CUSTOMERS, {}, { "idempotency-key": key });
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json());
    expect(await rowCounts()).toEqual(before);
  });

  it("without a key every POST executes", async () => {
    const a = await bank.post(CUSTOMERS, {});
    const b = await bank.post(CUSTOMERS, {});
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(a.json().data.id).not.toBe(b.json().data.id);
    expect(a.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("keys belong to the org: another org's identical key executes independently", async () => {
    const other = await ctx.tenant();
    const key = newKey();
    const mine = await bank.post(CUSTOMERS, { externalRef: "same-ref" }, { "idempotency-key": key });
    const theirs = await other.post(CUSTOMERS, { externalRef: "same-ref" }, { "idempotency-key": key });
    expect([mine.statusCode, theirs.statusCode]).toEqual([201, 201]);
    expect(theirs.headers["idempotent-replayed"]).toBeUndefined();
    expect(theirs.json().data.id).not.toBe(mine.json().data.id);
  });
});

describe("Idempotency-Key: refusals", () => {
  it("409 idempotency_key_reused for the same key with a different body or path, writing nothing", async () => {
    const customerId = await bank.customer();
    const key = newKey();
    expect((await bank.post(INGEST, { customerId, valid: false, reason: "a" }, { "idempotency-key": key })).statusCode).toBe(201);
    const before = await rowCounts();
    const cases: [string, unknown][] = [
      [INGEST, { customerId, valid: false, reason: "b" }],
      [INGEST, { customerId, valid: true, photo }],
      [INGEST, `{"customerId":"${customerId}", "valid":false,"reason":"a"}`], // same JSON value, other bytes
      [CUSTOMERS, {}],
    ];
    for (const [url, payload] of cases) {
      const res = await bank.post(url, payload, { "idempotency-key": key });
      expect(res.statusCode, JSON.stringify(payload)).toBe(409);
      expect(res.json()).toEqual({ error: expect.stringMatching(/different request/), code: "idempotency_key_reused", requestId: expect.any(String) });
      expect(res.headers["retry-after"], "a reused key is final: retrying cannot help").toBeUndefined();
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("400 for a malformed or repeated key, writing nothing and claiming nothing", async () => {
    const before = await rowCounts();
    const keysBefore = await ctx.prisma.idempotencyKey.count();
    for (const bad of ["x".repeat(256), "caf\u00e9", "tab\there"]) {
      const res = await bank.post(CUSTOMERS, {}, { "idempotency-key": bad });
      expect(res.statusCode, bad.slice(0, 20)).toBe(400);
      expect(res.json().details.fieldErrors["idempotency-key"]).toEqual(["must be 1-255 printable ASCII characters"]);
    }
    const empty = await ctx.app.inject({
      method: "POST",
      url: CUSTOMERS,
      headers: { ...bank.auth, "content-type": "application/json", "idempotency-key": "" },
      payload: {},
    });
    expect(empty.statusCode).toBe(400);
    const repeated = await ctx.app.inject({
      method: "POST",
      url: CUSTOMERS,
      headers: { ...bank.auth, "content-type": "application/json", "idempotency-key": ["k-one", "k-two"] },
      payload: {},
    });
    expect(repeated.statusCode).toBe(400);
    expect(repeated.json()).toMatchObject({ code: "invalid_idempotency_key", error: "Idempotency-Key must be sent once" });
    // 255 printable characters (spaces included) are fine
    const longest = await bank.post(CUSTOMERS, {}, { "idempotency-key": `${"k".repeat(127)} ${"~".repeat(127)}` });
    expect(longest.statusCode).toBe(201);
    expect(await rowCounts()).toEqual({ ...before, customers: before.customers + 1 });
    expect(await ctx.prisma.idempotencyKey.count()).toBe(keysBefore + 1);
  });

  it("a request refused before it executes (validation, auth, scope) stores nothing: the key stays free", async () => {
    const customerId = await bank.customer();
    const key = newKey();
    const invalid = await bank.post(INGEST, { customerId, valid: "yes" }, { "idempotency-key": key });
    expect(invalid.statusCode).toBe(400);
    const unauth = await ctx.app.inject({
      method: "POST",
      url: INGEST,
      headers: { authorization: "Bearer qe_sk_sandbox_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "content-type": "application/json", "idempotency-key": key },
      payload: { customerId, valid: false },
    });
    expect(unauth.statusCode).toBe(401);
    const noScope = await ctx.tenant({ scopes: ["customers:view"] });
    expect((await noScope.post(CUSTOMERS, {}, { "idempotency-key": key })).statusCode).toBe(403);
    expect(await keyRow(bank.orgId, key)).toBeNull();
    const ok = await bank.post(INGEST, { customerId, valid: false }, { "idempotency-key": key });
    expect(ok.statusCode).toBe(201);
    expect(ok.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("a business refusal (404, 409) is stored and replayed", async () => {
    const key = newKey();
    const missing = { customerId: "cjld2cjxh0000qzrmn831i7rn", valid: true, photo };
    const first = await bank.post(INGEST, missing, { "idempotency-key": key });
    expect(first.statusCode).toBe(404);
    const again = await bank.post(INGEST, missing, { "idempotency-key": key });
    expect(again.statusCode).toBe(404);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json()); // including the first request's requestId

    const ref = `taken-${seq++}`;
    expect((await bank.post(CUSTOMERS, { externalRef: ref })).statusCode).toBe(201);
    const k2 = newKey();
    const conflict = await bank.post(CUSTOMERS, { externalRef: ref }, { "idempotency-key": k2 });
    expect(conflict.statusCode).toBe(409);
    const replay = await bank.post(CUSTOMERS, { externalRef: ref }, { "idempotency-key": k2 });
    expect([replay.statusCode, replay.headers["idempotent-replayed"]]).toEqual([409, "true"]);
    expect(replay.body).toBe(conflict.body);
  });

  it("a 5xx is not stored: the claim is released and a retry with the same key executes", async () => {
    const customerId = await bank.customer();
    const key = newKey();
    await ctx.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION qe_test_fail() RETURNS trigger AS $$
      BEGIN IF NEW.customer_id = '${customerId}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await ctx.prisma.$executeRawUnsafe(`CREATE TRIGGER qe_test_fail BEFORE INSERT ON tier_events FOR EACH ROW EXECUTE FUNCTION qe_test_fail()`);
    const payload = { customerId, valid: true, photo };
    try {
      const failed = await bank.post(INGEST, payload, { "idempotency-key": key });
      expect(failed.statusCode).toBe(500);
      expect(await keyRow(bank.orgId, key)).toBeNull();
    } finally {
      await ctx.prisma.$executeRawUnsafe(`DROP TRIGGER qe_test_fail ON tier_events`);
    }
    const retry = await bank.post(INGEST, payload, { "idempotency-key": key });
    expect(retry.statusCode).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBeUndefined();
    expect(await ctx.prisma.verification.count({ where: { customerId } })).toBe(1);
  });
});

describe("Idempotency-Key: claims in progress, stale and expired", () => {
  /** Makes `key` look like it is held by another request with the same body (the hash excludes the key). */
  async function heldBy(key: string, sameAs: string, claimedAgoMs: number) {
    const done = (await keyRow(bank.orgId, sameAs))!;
    const at = new Date(Date.now() - claimedAgoMs);
    await ctx.prisma.idempotencyKey.create({
      data: { orgId: bank.orgId, key, route: done.route, requestHash: done.requestHash, state: "in_progress", createdAt: at, expiresAt: new Date(at.getTime() + 86_400_000) },
    });
  }

  it("409 idempotency_request_in_progress while another request holds the key; an abandoned claim is taken over", async () => {
    const customerId = await bank.customer();
    const payload = { customerId, valid: false, reason: "held" };
    const template = newKey();
    expect((await bank.post(INGEST, payload, { "idempotency-key": template })).statusCode).toBe(201);

    const held = newKey();
    await heldBy(held, template, 1_000);
    const before = await rowCounts();
    const busy = await bank.post(INGEST, payload, { "idempotency-key": held });
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ code: "idempotency_request_in_progress", error: "a request with this Idempotency-Key is still being processed; retry shortly" });
    expect(busy.headers["retry-after"]).toBe("1");
    expect(await rowCounts()).toEqual(before);

    const abandoned = newKey();
    await heldBy(abandoned, template, 5 * 60_000);
    const takeover = await bank.post(INGEST, payload, { "idempotency-key": abandoned });
    expect(takeover.statusCode).toBe(201);
    expect(await ctx.prisma.verification.count({ where: { customerId } })).toBe(2);
    expect(await keyRow(bank.orgId, abandoned)).toMatchObject({ state: "completed", statusCode: 201 });
  });

  it("a verdict whose claim was taken over meanwhile rolls back instead of committing a second write", async () => {
    const customerId = await bank.customer();
    const key = newKey();
    // While the verdict's transaction runs, another request takes the key over (its claim has a new createdAt).
    await ctx.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION qe_test_takeover() RETURNS trigger AS $$
      BEGIN UPDATE idempotency_keys SET created_at = created_at + interval '2 minutes' WHERE key = '${key}'; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await ctx.prisma.$executeRawUnsafe(
      `CREATE TRIGGER qe_test_takeover AFTER INSERT ON verifications FOR EACH ROW WHEN (NEW.customer_id = '${customerId}') EXECUTE FUNCTION qe_test_takeover()`,
    );
    const before = await rowCounts();
    try {
      const res = await bank.post(INGEST, { customerId, valid: true, photo }, { "idempotency-key": key });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ code: "idempotency_request_in_progress" });
    } finally {
      await ctx.prisma.$executeRawUnsafe(`DROP TRIGGER qe_test_takeover ON verifications`);
    }
    expect(await rowCounts()).toEqual(before);
    expect((await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).kycTier).toBe("none");
    // the other request's claim is untouched (still in progress, not overwritten by the loser)
    expect(await keyRow(bank.orgId, key)).toMatchObject({ state: "in_progress", statusCode: null });
  });

  it("an expired key is free again, and expired keys are purged", async () => {
    const key = newKey();
    const first = await bank.post(CUSTOMERS, {}, { "idempotency-key": key });
    expect(first.statusCode).toBe(201);
    await ctx.prisma.idempotencyKey.update({
      where: { orgId_key: { orgId: bank.orgId, key } },
      data: { createdAt: new Date(Date.now() - 25 * 3600_000), expiresAt: new Date(Date.now() - 3600_000) },
    });
    // a different body would be a 409 while the key lives; expired, it simply executes
    const reused = await bank.post(CUSTOMERS, { externalRef: `after-expiry-${seq++}` }, { "idempotency-key": key });
    expect(reused.statusCode).toBe(201);
    expect(reused.headers["idempotent-replayed"]).toBeUndefined();

    const stale = newKey();
    await bank.post(CUSTOMERS, {}, { "idempotency-key": stale });
    await ctx.prisma.idempotencyKey.update({ where: { orgId_key: { orgId: bank.orgId, key: stale } }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const live = await ctx.prisma.idempotencyKey.count({ where: { expiresAt: { gt: new Date() } } });
    expect(await ctx.services.idempotency.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await keyRow(bank.orgId, stale)).toBeNull();
    expect(await ctx.prisma.idempotencyKey.count({ where: { expiresAt: { gt: new Date() } } })).toBe(live);
  });
});

describe("Idempotency-Key: races", () => {
  it("ten concurrent identical verdicts with one key: exactly one executes, the rest replay or get a 409", async () => {
    const customerId = await bank.customer();
    const key = newKey();
    const payload = { customerId, valid: true, photo };
    const results = await Promise.all(Array.from({ length: 10 }, () => bank.post(INGEST, payload, { "idempotency-key": key })));
    const executed = results.filter((r) => r.statusCode === 201 && r.headers["idempotent-replayed"] === undefined);
    expect(executed).toHaveLength(1);
    for (const r of results) {
      if (r === executed[0]) continue;
      if (r.statusCode === 201) expect(r.body).toBe(executed[0]!.body);
      else expect([r.statusCode, r.json().code]).toEqual([409, "idempotency_request_in_progress"]);
    }
    expect(await ctx.prisma.verification.count({ where: { customerId } })).toBe(1);
    expect(await ctx.prisma.faceEnrolment.count({ where: { customerId } })).toBe(1);
    expect(await ctx.prisma.tierEvent.count({ where: { customerId } })).toBe(1);
    const replay = await bank.post(INGEST, payload, { "idempotency-key": key });
    expect(replay.body).toBe(executed[0]!.body);
  });
});

// The service on its own clock, at the edges the HTTP tests cannot place exactly: a claim abandoned after
// exactly 60 s, a key expiring at exactly 24 h, a stored response replayed only once it is complete, purging
// in batches of 1000.
describe("Idempotency service: edges in time", () => {
  const T0 = new Date("2026-06-01T08:00:00.000Z");
  const at = (ms: number) => new Date(T0.getTime() + ms);
  const service = (now: Date) => createIdempotencyService({ prisma: ctx.prisma, now: () => now });
  const request = (key: string, requestHash = "hash-a") => ({ orgId: bank.orgId, key, route: "POST /api/customers", requestHash });

  it("a claim is in progress for 60 s, then abandoned and taken over; the replay is the stored response, once complete", async () => {
    const key = newKey();
    const first = await service(T0).begin(request(key));
    expect(first).toEqual({ kind: "execute", claim: { orgId: bank.orgId, key, claimedAt: T0 } });
    for (const ms of [0, 1, 60_000]) await expect(service(at(ms)).begin(request(key))).rejects.toMatchObject({ statusCode: 409, code: "idempotency_request_in_progress" });
    await expect(service(at(1)).begin(request(key, "hash-b"))).rejects.toMatchObject({ statusCode: 409, code: "idempotency_key_reused" });
    const taken = await service(at(60_001)).begin(request(key));
    expect(taken).toEqual({ kind: "execute", claim: { orgId: bank.orgId, key, claimedAt: at(60_001) } });
    // the first claim is no longer the key's: it can neither store its response nor release the new claim
    if (first.kind !== "execute" || taken.kind !== "execute") throw new Error("unreachable");
    expect(await service(at(60_002)).complete(first.claim, { statusCode: 201, bodyText: '{"late":true}' })).toBe(false);
    await service(at(60_002)).release(first.claim);
    expect(await keyRow(bank.orgId, key)).toMatchObject({ state: "in_progress", createdAt: at(60_001) });

    expect(await service(at(60_003)).complete(taken.claim, { statusCode: 201, bodyText: '{"b":1,"a":2}' })).toBe(true);
    expect(await keyRow(bank.orgId, key)).toMatchObject({ state: "completed", statusCode: 201, completedAt: at(60_003), expiresAt: at(60_001 + 86_400_000) });
    // completed: replayed as stored (key order kept), long after a claim would be stale
    expect(await service(at(3_600_000)).begin(request(key))).toEqual({ kind: "replay", statusCode: 201, bodyText: '{"b":1,"a":2}' });
    await expect(service(at(3_600_000)).begin(request(key, "hash-b"))).rejects.toMatchObject({ code: "idempotency_key_reused" });
  });

  it("a key lives 24 h: up to the millisecond before, the same key with another body is refused; from then on it is free", async () => {
    const key = newKey();
    const claim = await service(T0).begin(request(key));
    if (claim.kind !== "execute") throw new Error("expected to execute");
    await service(T0).complete(claim.claim, { statusCode: 201, bodyText: "{}" });
    await expect(service(at(86_399_999)).begin(request(key, "hash-b"))).rejects.toMatchObject({ code: "idempotency_key_reused" });
    expect(await service(at(86_400_000)).begin(request(key, "hash-b"))).toEqual({ kind: "execute", claim: { orgId: bank.orgId, key, claimedAt: at(86_400_000) } });
    expect(await keyRow(bank.orgId, key)).toMatchObject({ requestHash: "hash-b", state: "in_progress" });
  });

  it("a released claim frees the key at once", async () => {
    const key = newKey();
    const claim = await service(T0).begin(request(key));
    if (claim.kind !== "execute") throw new Error("expected to execute");
    await service(T0).release(claim.claim);
    expect(await keyRow(bank.orgId, key)).toBeNull();
    expect((await service(at(1)).begin(request(key, "hash-b"))).kind).toBe("execute");
  });

  it("purges every expired key, in batches of 1000, and nothing that lives", async () => {
    const prefix = `purge-${Date.now()}-`;
    const rows = (n: number, expiresAt: Date, tag: string) =>
      Array.from({ length: n }, (_, i) => ({ orgId: bank.orgId, key: `${prefix}${tag}${i}`, route: "POST /x", requestHash: "h", state: "completed", createdAt: T0, expiresAt }));
    await ctx.prisma.idempotencyKey.createMany({ data: [...rows(1001, at(1000), "old"), ...rows(3, at(1001), "live")] });
    // rows from other tests (real clock, far later) are not expired at this instant
    expect(await service(at(1000)).purgeExpired()).toBe(1001);
    expect(await ctx.prisma.idempotencyKey.count({ where: { key: { startsWith: prefix } } })).toBe(3);
    expect(await service(at(1000)).purgeExpired()).toBe(0);
    expect(await service(at(1001)).purgeExpired()).toBe(3);
  });
});
