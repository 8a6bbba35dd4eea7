import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { instantText, parseInstant } from "../../src/http/instant.js";
import { newId } from "../../src/ids.js";
import type { VerificationMethod, VerificationStatus } from "../../src/kyc/tier.js";
import type { AttemptRow } from "../../src/modules/attempts/attempts-dal.js";
import { createAttemptsService } from "../../src/modules/attempts/attempts-service.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";

const URL = "/api/identity/attempts";
const INGEST = "/api/identity/nik/dukcapil";
const ITEM_KEYS = ["apiKey", "createdAt", "customerId", "id", "method", "reason", "score", "status"];

/** What the test wrote, as the data layer reads it (the prefix is checked through the key id). */
type Row = Omit<AttemptRow, "apiKeyPrefix">;

let ctx: TestContext;
let bank: Tenant;
let other: Tenant;
let customers: string[];
let theirCustomer: string;
/** Every row of `bank`, as the test put it there. */
const rows: Row[] = [];
let postedIds: string[];

const METHODS: VerificationMethod[] = ["nik_format", "nik_dukcapil", "ktp_capture", "face_liveness", "face_match"];
const T0 = Date.parse("2026-11-01T00:00:00.000Z");

/** The model's answer: newest first, id breaking ties. */
function expected(filter: (r: Row) => boolean): Row[] {
  return rows
    .filter(filter)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

const get = (t: Tenant, query: string) => ctx.app.inject({ method: "GET", url: `${URL}${query ? `?${query}` : ""}`, headers: t.auth });
const ids = (body: { data: { id: string }[] }) => body.data.map((d) => d.id);

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 100_000, "identity.attempts.list": 100_000 } });
  other = await ctx.tenant({ limits: { "identity.attempts.list": 100_000 } });
  customers = [await bank.customer(), await bank.customer(), await bank.customer()];
  theirCustomer = await other.customer();

  // Real verdicts through HTTP (their createdAt is now), with the key that submitted them.
  const photo = b64(await jpeg(200, 240));
  postedIds = [];
  for (const [i, valid] of [true, false, false, true].entries()) {
    const customerId = customers[i % 2]!;
    const res = await bank.post(INGEST, valid ? { customerId, valid, photo, raw: { marker: "RAW-SECRET" } } : { customerId, valid, reason: `declined #${i}` });
    expect(res.statusCode).toBe(201);
    postedIds.push(res.json().verification.id);
  }
  await other.post(INGEST, { customerId: theirCustomer, valid: false, reason: "their decline" });

  // Older history with known timestamps: every method, both statuses, and clusters sharing one millisecond.
  const data = [];
  for (let i = 0; i < 60; i++) {
    const status: VerificationStatus = i % 3 === 0 ? "failed" : "verified";
    data.push({
      id: newId.verification(),
      orgId: bank.orgId,
      customerId: customers[i % 3]!,
      method: METHODS[i % METHODS.length]!,
      status,
      score: status === "verified" ? 50 + (i % 50) : null,
      reason: status === "failed" ? `reason ${i}` : null,
      // every 4 rows share a millisecond, to prove ties never skip or repeat a row across pages
      createdAt: new Date(T0 + Math.floor(i / 4) * 3_600_000),
      apiKeyId: null,
    });
  }
  await ctx.prisma.verification.createMany({ data });
  // another org's history in the same period
  await ctx.prisma.verification.createMany({
    data: Array.from({ length: 10 }, (_, i) => ({
      id: newId.verification(),
      orgId: other.orgId,
      customerId: theirCustomer,
      method: "nik_dukcapil" as const,
      status: "failed" as const,
      reason: "theirs",
      createdAt: new Date(T0 + i * 3_600_000),
    })),
  });
  const stored = await ctx.prisma.verification.findMany({ where: { orgId: bank.orgId } });
  rows.push(...stored.map((r) => ({ id: r.id, customerId: r.customerId, method: r.method, status: r.status, score: r.score, reason: r.reason, createdAt: r.createdAt, apiKeyId: r.apiKeyId })));
});
afterAll(() => ctx.close());

describe("GET /api/identity/attempts: listing", () => {
  it("lists the org's attempts newest first in the list envelope, with the submitting key's id and prefix", async () => {
    const res = await get(bank, "");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const want = expected(() => true);
    expect(body).toMatchObject({ total: want.length, page: 1, limit: 20, meta: { pages: Math.ceil(want.length / 20), totalExact: true } });
    expect(ids(body)).toEqual(want.slice(0, 20).map((r) => r.id));
    expect(body.data.slice(0, 4).map((d: { id: string }) => d.id)).toEqual([...postedIds].reverse());
    const first = body.data[0];
    expect(Object.keys(first).sort()).toEqual(ITEM_KEYS);
    const key = await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: bank.keyId } });
    expect(first).toEqual({
      id: postedIds[3],
      customerId: customers[1],
      method: "nik_dukcapil",
      status: "verified",
      score: 100,
      reason: null,
      createdAt: want[0]!.createdAt.toISOString(),
      apiKey: { id: bank.keyId, prefix: key.prefix },
    });
    expect(body.data[1]).toMatchObject({ status: "failed", reason: "declined #2", score: null });
    // rows written without a key say so
    expect(body.data[4].apiKey).toBeNull();
    // never raw, photo or the key
    expect(res.body).not.toContain("RAW-SECRET");
    expect(res.body).not.toContain(bank.key);
    // no field of the reply is named like either (a match on the whole text would trip on base64 and ULIDs)
    const names = [...res.body.matchAll(/"([^"]+)":/g)].map((m) => m[1]!);
    expect(names.filter((n) => /raw|photo|template|sealed/i.test(n))).toEqual([]);
  });

  it("filters by method, status, customerId, from and to, alone", async () => {
    const cases: [string, (r: Row) => boolean][] = [
      ["method=nik_dukcapil", (r) => r.method === "nik_dukcapil"],
      ["method=face_match", (r) => r.method === "face_match"],
      ["status=failed", (r) => r.status === "failed"],
      ["status=verified", (r) => r.status === "verified"],
      [`customerId=${customers[2]}`, (r) => r.customerId === customers[2]],
      ["from=2026-11-02T00:00:00Z", (r) => r.createdAt.getTime() >= Date.parse("2026-11-02T00:00:00Z")],
      ["to=2026-11-01T06:00:00.000Z", (r) => r.createdAt.getTime() < Date.parse("2026-11-01T06:00:00Z")],
    ];
    for (const [query, filter] of cases) {
      const want = expected(filter);
      expect(want.length, query).toBeGreaterThan(0);
      const body = (await get(bank, `${query}&limit=100`)).json();
      expect(ids(body), query).toEqual(want.map((r) => r.id));
      expect(body.total, query).toBe(want.length);
    }
  });

  it("filters combined: last week's failed Dukcapil attempts of one customer", async () => {
    const from = "2026-11-01T05:00:00+07:00"; // = 2026-10-31T22:00Z
    const to = "2026-11-02T12:00:00Z";
    const cases: [string, (r: Row) => boolean][] = [
      ["method=nik_dukcapil&status=failed", (r) => r.method === "nik_dukcapil" && r.status === "failed"],
      [
        `method=ktp_capture&status=failed&customerId=${customers[0]}&from=${encodeURIComponent(from)}&to=${to}`,
        (r) => r.method === "ktp_capture" && r.status === "failed" && r.customerId === customers[0] && r.createdAt >= new Date(from) && r.createdAt < new Date(to),
      ],
      [
        `status=failed&from=2026-11-01T03:00:00Z&to=${to}`,
        (r) => r.status === "failed" && r.createdAt >= new Date("2026-11-01T03:00:00Z") && r.createdAt < new Date(to),
      ],
      // bounds finer than the stored milliseconds are compared exactly, not truncated
      [`to=2026-11-01T03:00:00.0001Z`, (r) => r.createdAt.getTime() <= Date.parse("2026-11-01T03:00:00Z")],
      [`from=2026-11-01T02:59:59.9999Z&to=2026-11-01T03:00:00.000001Z`, (r) => r.createdAt.getTime() === Date.parse("2026-11-01T03:00:00Z")],
      [`from=2026-11-01T03:00:00.0001Z&to=2026-11-01T05:00:00Z`, (r) => r.createdAt.getTime() > Date.parse("2026-11-01T03:00:00Z") && r.createdAt.getTime() < Date.parse("2026-11-01T05:00:00Z")],
      // an unencoded "+07:00" arrives as " 07:00" and still means +07:00
      [`from=2026-11-01T12:00:00+07:00&method=face_liveness`, (r) => r.method === "face_liveness" && r.createdAt >= new Date("2026-11-01T05:00:00Z")],
    ];
    for (const [query, filter] of cases) {
      const want = expected(filter);
      expect(want.length, query).toBeGreaterThan(0);
      const body = (await get(bank, `${query}&limit=100`)).json();
      expect(ids(body), query).toEqual(want.map((r) => r.id));
      expect(body.total).toBe(want.length);
    }
  });

  it("an empty result is a 200 with an empty page", async () => {
    const body = (await get(bank, "method=nik_format&status=failed&from=2030-01-01T00:00:00Z")).json();
    expect(body).toEqual({ data: [], total: 0, page: 1, limit: 20, meta: { pages: 0, totalExact: true, nextCursor: null } });
  });
});

describe("GET /api/identity/attempts: paging", () => {
  it("page/limit walk every row once, in order; past the last page is empty", async () => {
    const want = expected(() => true).map((r) => r.id);
    const seen: string[] = [];
    const pages = Math.ceil(want.length / 7);
    for (let page = 1; page <= pages; page++) {
      const body = (await get(bank, `limit=7&page=${page}`)).json();
      expect(body).toMatchObject({ page, limit: 7, total: want.length, meta: { pages } });
      expect(body.meta.nextCursor === null).toBe(page === pages);
      seen.push(...ids(body));
    }
    expect(seen).toEqual(want);
    const beyond = (await get(bank, `limit=7&page=${pages + 1}`)).json();
    expect(beyond).toMatchObject({ data: [], page: pages + 1, meta: { nextCursor: null } });
  });

  it("the cursor walks every row once, in order, across millisecond ties, and knows its page number", async () => {
    for (const [query, filter] of [
      ["", () => true],
      ["method=nik_dukcapil", (r: Row) => r.method === "nik_dukcapil"],
      [`status=verified&customerId=${customers[1]}`, (r: Row) => r.status === "verified" && r.customerId === customers[1]],
    ] as const) {
      const want = expected(filter).map((r) => r.id);
      for (const limit of [1, 3, 4, 100]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let page = 0;
        do {
          const res = await get(bank, [query, `limit=${limit}`, cursor ? `cursor=${cursor}` : ""].filter(Boolean).join("&"));
          expect(res.statusCode).toBe(200);
          const body = res.json();
          page++;
          expect(body.page).toBe(page);
          expect(body.data.length).toBeLessThanOrEqual(limit);
          seen.push(...ids(body));
          cursor = body.meta.nextCursor;
        } while (cursor);
        expect(seen, `${query} limit=${limit}`).toEqual(want);
        expect(page).toBe(Math.max(1, Math.ceil(want.length / limit)));
      }
    }
  });

  it("a cursor page does not shift when newer attempts arrive (an offset page does)", async () => {
    const customerId = await bank.customer();
    const first = (await get(bank, "limit=5")).json();
    const byCursor = (await get(bank, `limit=5&cursor=${first.meta.nextCursor}`)).json();
    const byPage = (await get(bank, "limit=5&page=2")).json();
    expect(ids(byCursor)).toEqual(ids(byPage));
    // a new attempt lands at the head of the list
    const res = await bank.post(INGEST, { customerId, valid: false, reason: "new" });
    rows.push({ ...(await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } })) });
    expect(ids((await get(bank, `limit=5&cursor=${first.meta.nextCursor}`)).json())).toEqual(ids(byCursor));
    expect(ids((await get(bank, "limit=5&page=2")).json())).not.toEqual(ids(byPage));
  });

  it("limit defaults to 20 and is capped at 100", async () => {
    expect((await get(bank, "")).json().data).toHaveLength(20);
    expect((await get(bank, "limit=100")).json().data).toHaveLength(Math.min(100, rows.length));
    for (const q of ["limit=101", "limit=0", "limit=-1", "limit=2.5", "limit=ten"]) {
      const res = await get(bank, q);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().details.fieldErrors, q).toHaveProperty("limit");
    }
  });

  it("past the exact-count cap, total is an estimate flagged as such and never below what was seen", async () => {
    // The same routes on a service whose cap is tiny, so the estimate path runs on a small table.
    const services = { ...ctx.services, attempts: createAttemptsService({ prisma: ctx.prisma, exactCountCap: 5 }) };
    const app = await buildApp({ prisma: ctx.prisma, services, logLevel: "silent" });
    await ctx.prisma.$executeRawUnsafe("ANALYZE verifications"); // real statistics, as autovacuum keeps them
    try {
      const res = await app.inject({ method: "GET", url: `${URL}?limit=10&page=3`, headers: bank.auth });
      const body = res.json();
      expect(res.statusCode).toBe(200);
      expect(body.meta.totalExact).toBe(false);
      expect(body.total).toBeGreaterThanOrEqual(30);
      expect(body.meta.pages).toBe(Math.ceil(body.total / 10));
      expect(ids(body)).toEqual(expected(() => true).slice(20, 30).map((r) => r.id));
      // an estimate from statistics, near the truth
      const real = expected(() => true).length;
      expect(body.total).toBeGreaterThanOrEqual(real / 2);
      expect(body.total).toBeLessThanOrEqual(real * 2);
      // more matches than the cap on a narrower filter: not exact either way it is found out
      const failed = (await app.inject({ method: "GET", url: `${URL}?status=failed`, headers: bank.auth })).json();
      expect(expected((r) => r.status === "failed").length).toBeGreaterThan(5);
      expect(failed.meta.totalExact).toBe(false);
      expect(failed.total).toBeGreaterThan(5);
      const small = (await app.inject({ method: "GET", url: `${URL}?customerId=${customers[2]}&method=nik_format`, headers: bank.auth })).json();
      expect(small.meta.totalExact).toBe(true);
      expect(small.total).toBe(expected((r) => r.customerId === customers[2] && r.method === "nik_format").length);
    } finally {
      await app.close();
    }
  });
});

describe("GET /api/identity/attempts: refusals and tenancy", () => {
  it("400 with field errors for bad filter values", async () => {
    const cases: [string, string][] = [
      ["method=nik_magic", "method"],
      ["status=pending", "status"],
      ["customerId=NOT A CUID", "customerId"],
      ["from=yesterday", "from"],
      ["from=2026-11-01", "from"],
      ["to=2026-11-01T00:00:00", "to"],
      ["from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"],
      ["page=0", "page"],
      ["page=x", "page"],
      ["cursor=not-a-cursor", "cursor"],
      [`cursor=${Buffer.from("123.ver_X.1").toString("base64url")}`, "cursor"],
      ["sort=asc", "sort"],
      ["method=nik_format&method=face_match", "method"],
    ];
    for (const [query, field] of cases) {
      const res = await get(bank, query);
      expect(res.statusCode, query).toBe(400);
      expect(res.json(), query).toMatchObject({ code: "validation_failed" });
      expect(res.json().details.fieldErrors, query).toHaveProperty(field);
    }
  });

  it("400 when page and cursor are combined", async () => {
    const first = (await get(bank, "limit=2")).json();
    const res = await get(bank, `limit=2&page=2&cursor=${first.meta.nextCursor}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().details.fieldErrors).toHaveProperty("page");
  });

  it("a cursor is bound to the filters and limit that made it: anything else is a 400, never another listing's page", async () => {
    const first = (await get(bank, "method=nik_dukcapil&from=2020-01-01T00:00:00Z&limit=2")).json();
    const cursor = first.meta.nextCursor as string;
    // the same listing, the instant written another way: accepted
    const next = await get(bank, `method=nik_dukcapil&from=${encodeURIComponent("2020-01-01T07:00:00+07:00")}&limit=2&cursor=${cursor}`);
    expect(next.statusCode).toBe(200);
    expect(next.json().page).toBe(2);
    for (const query of ["method=nik_dukcapil&from=2020-01-01T00:00:00Z", "method=nik_dukcapil&limit=2", "status=failed&method=nik_dukcapil&from=2020-01-01T00:00:00Z&limit=2", "from=2020-01-01T00:00:00Z&limit=2"]) {
      const res = await get(bank, `${query}&cursor=${cursor}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().details.fieldErrors.cursor, query).toEqual(["was made for other filters or another limit: send the same ones as the page it came from"]);
    }
  });

  it("only ever the caller's org: no filter, cursor or customer id reaches another org's rows", async () => {
    const theirs = (await get(other, "limit=100")).json();
    expect(theirs.total).toBe(11);
    expect(theirs.data.every((d: { customerId: string }) => d.customerId === theirCustomer)).toBe(true);
    const ours = new Set(rows.map((r) => r.id));
    expect(theirs.data.some((d: { id: string }) => ours.has(d.id))).toBe(false);

    // our filters naming their customer find nothing
    const cross = (await get(bank, `customerId=${theirCustomer}`)).json();
    expect(cross).toMatchObject({ data: [], total: 0 });
    // our cursor used by them stays in their org
    const ourFirst = (await get(bank, "limit=3")).json();
    const viaOurCursor = (await get(other, `limit=3&cursor=${ourFirst.meta.nextCursor}`)).json();
    expect(viaOurCursor.data.length).toBeGreaterThan(0);
    expect(viaOurCursor.data.every((d: { customerId: string }) => d.customerId === theirCustomer)).toBe(true);
    // and their rows never show in ours
    const all = (await get(bank, "limit=100&method=nik_dukcapil")).json();
    expect(all.data.some((d: { customerId: string }) => d.customerId === theirCustomer)).toBe(false);
  });

  it("401 without a key, 403 without verifications:view", async () => {
    expect((await ctx.app.inject({ method: "GET", url: URL })).statusCode).toBe(401);
    const narrow = await ctx.tenant({ scopes: ["customers:view"] });
    const res = await get(narrow, "");
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: "missing scope: verifications:view" });
  });

  it("is limited in its own bucket, identity.attempts.list", async () => {
    const limited = await ctx.tenant({ limits: { "identity.attempts.list": 1 } });
    expect((await get(limited, "")).statusCode).toBe(200);
    const res = await get(limited, "");
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ bucket: "identity.attempts.list", limit: 1 });
  });
});

/** A timestamp's parts, as the generators below make them (any day 1-31, so some name no day at all). */
interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  fraction: string;
  /** minutes east of UTC, or "Z" */
  offset: number | "Z";
}

const two = (n: number) => String(n).padStart(2, "0");
function textOf(p: Parts): string {
  const off = p.offset === "Z" ? "Z" : `${p.offset < 0 ? "-" : "+"}${two(Math.floor(Math.abs(p.offset) / 60))}:${two(Math.abs(p.offset) % 60)}`;
  return `${String(p.year).padStart(4, "0")}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}:${two(p.second)}${p.fraction ? `.${p.fraction}` : ""}${off}`;
}

/**
 * The model: the instant in microseconds, computed with a Date (which does its own calendar arithmetic: year
 * 0, a leap second's overflow into the next minute), rounded up to the microsecond; undefined for a day the
 * month does not have.
 */
function modelMicros(p: Parts): bigint | undefined {
  const d = new Date(0);
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  if (d.getUTCDate() !== p.day) return undefined;
  d.setUTCHours(p.hour, p.minute - (p.offset === "Z" ? 0 : p.offset), p.second, 0);
  const fraction = p.fraction.padEnd(6, "0");
  return BigInt(d.getTime()) * 1000n + BigInt(fraction.slice(0, 6)) + (/[1-9]/.test(fraction.slice(6)) ? 1n : 0n);
}

const partsArb = (near: boolean): fc.Arbitrary<Parts> =>
  fc.record({
    // near the stored rows (2026-11-01/02, so the filter cuts through them) or anywhere in years 0000-9999
    year: near ? fc.constant(2026) : fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 9999)),
    month: near ? fc.constantFrom(10, 11) : fc.integer({ min: 1, max: 12 }),
    day: near ? fc.constantFrom(1, 2, 31) : fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.oneof(fc.integer({ min: 0, max: 59 }), fc.constant(60)),
    fraction: fc.oneof(fc.constant(""), fc.stringMatching(/^\d{1,12}$/)),
    offset: fc.oneof(fc.constant("Z" as const), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }), fc.constantFrom(-(23 * 60 + 59), 16 * 60, 23 * 60 + 59)),
  });

describe("GET /api/identity/attempts: any timestamp or cursor, never a 5xx", () => {
  it("timestamps PostgreSQL cannot read as written are normalised to the instant they name", async () => {
    const cases: [string, string, string][] = [
      // [from, to, the same window as PostgreSQL reads it]
      ["0000-01-01T00:00:00Z", "2026-11-01T03:00:00Z", "0001-01-01T00:00:00.000000Z BC"], // year 0000 is 1 BC
      ["2026-11-01T03:00:00+16:00", "2026-11-01T09:00:00-23:59", "2026-10-31T11:00:00.000000Z"], // offsets beyond ±15:59
      ["2026-11-01T02:59:60Z", "9999-12-31T23:59:59-23:59", "2026-11-01T03:00:00.000000Z"], // a leap second; year 10000 in UTC
      ["2026-11-01T02:59:59.9999999999999Z", "2026-11-01T03:00:00.0000000000001Z", "2026-11-01T03:00:00.000000Z"], // 13 fraction digits
    ];
    for (const [from, to, fromAsPg] of cases) {
      const res = await get(bank, `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=100`);
      expect(res.statusCode, `${from} ${to}: ${res.body}`).toBe(200);
      const f = modelMicros(partsOf(from))!;
      const t = modelMicros(partsOf(to))!;
      const want = expected((r) => BigInt(r.createdAt.getTime()) * 1000n >= f && BigInt(r.createdAt.getTime()) * 1000n < t);
      expect(ids(res.json()), from).toEqual(want.slice(0, 100).map((r) => r.id));
      expect(instantText(parseInstant(from)!)).toBe(fromAsPg);
    }
  });

  it("property: every timestamp is a 200 filtering exactly as the model says, or a 400 on that field when its day does not exist", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(partsArb(true), partsArb(false)), fc.oneof(partsArb(true), partsArb(false)), async (fp, tp) => {
        const [from, to] = [textOf(fp), textOf(tp)];
        const res = await get(bank, `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=100`);
        expect(res.statusCode, `${from} ${to}: ${res.body}`).toBeLessThan(500);
        const [f, t] = [modelMicros(fp), modelMicros(tp)];
        if (f === undefined || t === undefined || f >= t) {
          expect(res.statusCode, `${from} ${to}`).toBe(400);
          const fields = Object.keys(res.json().details.fieldErrors);
          expect(fields, `${from} ${to}`).toEqual([...(f === undefined ? ["from"] : []), ...(t === undefined || (f !== undefined && f >= t) ? ["to"] : [])]);
          return;
        }
        expect(res.statusCode, `${from} ${to}: ${res.body}`).toBe(200);
        const want = expected((r) => BigInt(r.createdAt.getTime()) * 1000n >= f && BigInt(r.createdAt.getTime()) * 1000n < t);
        expect(ids(res.json()), `${from} ${to}`).toEqual(want.slice(0, 100).map((r) => r.id));
      }),
      { numRuns: 150 },
    );
  });

  it("property: where PostgreSQL reads a timestamp itself, it reads the same instant from ours", async () => {
    const readable = fc
      .record({
        year: fc.integer({ min: 1, max: 9999 }),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.integer({ min: 1, max: 28 }),
        hour: fc.integer({ min: 0, max: 23 }),
        minute: fc.integer({ min: 0, max: 59 }),
        second: fc.integer({ min: 0, max: 60 }),
        fraction: fc.oneof(fc.constant(""), fc.stringMatching(/^\d{1,6}$/)), // PostgreSQL rounds finer digits, we round up
        offset: fc.oneof(fc.constant("Z" as const), fc.integer({ min: -(15 * 60 + 59), max: 15 * 60 + 59 })),
      })
      .map(textOf);
    await fc.assert(
      fc.asyncProperty(readable, async (text) => {
        const ours = instantText(parseInstant(text)!);
        const [row] = await ctx.prisma.$queryRawUnsafe<{ same: boolean }[]>("SELECT $1::timestamptz = $2::timestamptz AS same", text, ours);
        expect(row!.same, `${text} → ${ours}`).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("a crafted cursor with an instant no stored row can have is a 400 on cursor", async () => {
    const scopeOf = async () => {
      const first = (await get(bank, "limit=2")).json();
      return Buffer.from(first.meta.nextCursor as string, "base64url").toString("utf8").split(".")[3]!;
    };
    const scope = await scopeOf();
    const crafted = (ms: string, page = "2") => Buffer.from(`${ms}.ver_X.${page}.${scope}`).toString("base64url");
    // well-formed and in range: a 200 (it is only a position)
    expect((await get(bank, `limit=2&cursor=${crafted("0")}`)).statusCode).toBe(200);
    expect((await get(bank, `limit=2&cursor=${crafted(String(Date.UTC(9999, 11, 31, 23, 59, 59, 999)))}`)).statusCode).toBe(200);
    for (const ms of [String(Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1), "999999999999999", "8640000000000000"]) {
      const res = await get(bank, `limit=2&cursor=${crafted(ms)}`);
      expect(res.statusCode, ms).toBe(400);
      expect(Object.keys(res.json().details.fieldErrors), ms).toEqual(["cursor"]);
    }
  });

  it("property: arbitrary cursors, crafted or random, are a 200 or a 400 on cursor", async () => {
    const first = (await get(bank, "limit=2")).json();
    const scope = Buffer.from(first.meta.nextCursor as string, "base64url").toString("utf8").split(".")[3]!;
    const craftedText = fc
      .tuple(fc.oneof(fc.stringMatching(/^\d{1,16}$/), fc.bigInt({ min: 253402300799990n, max: 999999999999999n }).map(String)), fc.stringMatching(/^[A-Za-z0-9_]{1,64}$/), fc.stringMatching(/^\d{1,10}$/), fc.oneof(fc.constant(scope), fc.stringMatching(/^[A-Za-z0-9_-]{11}$/)))
      .map((parts) => Buffer.from(parts.join("."), "utf8").toString("base64url"));
    const anyText = fc.oneof(fc.string({ maxLength: 220 }), fc.uint8Array({ maxLength: 150 }).map((b) => Buffer.from(b).toString("base64url")));
    await fc.assert(
      fc.asyncProperty(fc.oneof(craftedText, anyText), async (cursor) => {
        const res = await get(bank, `limit=2&cursor=${encodeURIComponent(cursor)}`);
        expect(res.statusCode, `${cursor}: ${res.body}`).toBeLessThan(500);
        if (res.statusCode === 400) expect(Object.keys(res.json().details.fieldErrors), cursor).toEqual(["cursor"]);
        else expect(res.statusCode, cursor).toBe(200);
      }),
      { numRuns: 200 },
    );
  });
});

/** The parts of a timestamp text the model reads (the inverse of textOf). */
function partsOf(text: string): Parts {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|([+-])(\d\d):(\d\d))$/.exec(text)!;
  const offset = m[8] === "Z" ? ("Z" as const) : (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  return { year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +m[4]!, minute: +m[5]!, second: +m[6]!, fraction: m[7] ?? "", offset };
}
