// GET /api/identity/attempts/export: every match as CSV, streamed by keyset pages. Pages are made tiny here (7
// rows) so the walk crosses many page boundaries, millisecond ties included.
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { newId } from "../../src/ids.js";
import type { VerificationMethod } from "../../src/kyc/tier.js";
import { attemptsCsvStream, csvCell } from "../../src/modules/attempts/attempts-csv.js";
import { createAttemptsService } from "../../src/modules/attempts/attempts-service.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { parseCsv } from "../helpers/csv.js";
import { b64, jpeg } from "../helpers/images.js";

const URL = "/api/identity/attempts/export";
const HEADER = ["id", "customerId", "method", "status", "score", "reason", "createdAt", "apiKeyPrefix"];
const METHODS: VerificationMethod[] = ["nik_format", "nik_dukcapil", "ktp_capture", "face_liveness", "face_match"];
const T0 = Date.parse("2026-11-01T00:00:00.000Z");
/** Reasons a spreadsheet would run, or that need RFC 4180 quoting. */
const HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd", "a,b", 'say "hi"', "two\r\nlines", "<b>markup</b>"];

let ctx: TestContext;
let app: FastifyInstance;
let bank: Tenant;
let other: Tenant;
let customers: string[];
let keyPrefix: string;

const get = (t: Tenant | undefined, query = "") => app.inject({ method: "GET", url: `${URL}${query ? `?${query}` : ""}`, headers: t ? t.auth : {} });

beforeAll(async () => {
  ctx = await createTestContext();
  app = await buildApp({ prisma: ctx.prisma, services: { ...ctx.services, attempts: createAttemptsService({ prisma: ctx.prisma, exportPageRows: 7 }) }, logLevel: "silent" });
  await app.ready();
  bank = await ctx.tenant({ limits: { "identity.attempts.export": 1000 } });
  other = await ctx.tenant({ limits: { "identity.attempts.export": 1000 } });
  customers = [await bank.customer(), await bank.customer()];
  const res = await bank.post("/api/identity/nik/dukcapil", { customerId: customers[0], valid: true, photo: b64(await jpeg(200, 240)), raw: { marker: "RAW-SECRET" } });
  expect(res.statusCode).toBe(201);
  keyPrefix = (await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: bank.keyId } })).prefix;
  await ctx.prisma.verification.createMany({
    data: Array.from({ length: 50 }, (_, i) => ({
      id: newId.verification(),
      orgId: bank.orgId,
      customerId: customers[i % 2]!,
      method: METHODS[i % METHODS.length]!,
      status: i % 2 === 0 ? ("failed" as const) : ("verified" as const),
      score: i % 2 === 0 ? null : 60 + i,
      reason: i % 2 === 0 ? HOSTILE[(i / 2) % HOSTILE.length]! : null,
      createdAt: new Date(T0 + Math.floor(i / 3) * 60_000), // three rows per millisecond
      apiKeyId: i % 4 === 1 ? bank.keyId : null,
    })),
  });
  const theirs = await other.customer();
  await ctx.prisma.verification.createMany({
    data: Array.from({ length: 5 }, (_, i) => ({ id: newId.verification(), orgId: other.orgId, customerId: theirs, method: "nik_dukcapil" as const, status: "failed" as const, reason: "theirs", createdAt: new Date(T0 + i) })),
  });
});
afterAll(async () => {
  await app.close();
  await ctx.close();
});

/** The rows as stored, newest first, as the CSV must show them (formula cells prefixed). */
async function expectedRows(where: Record<string, unknown> = {}) {
  const rows = await ctx.prisma.verification.findMany({ where: { orgId: bank.orgId, ...where }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], include: { apiKey: true } });
  return rows.map((r) => [r.id, r.customerId, r.method, r.status, r.score === null ? "" : String(r.score), r.reason === null ? "" : /^[=+\-@\t\r]/.test(r.reason) ? `'${r.reason}` : r.reason, r.createdAt.toISOString(), r.apiKey?.prefix ?? ""]);
}

describe("GET /api/identity/attempts/export", () => {
  it("streams every attempt of the org as CSV, newest first, across keyset pages and millisecond ties", async () => {
    const res = await get(bank);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(res.headers["content-disposition"]).toMatch(/^attachment; filename="attempts-org_[0-9A-Z]{26}-\d{8}T\d{6}Z\.csv"$/);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body.startsWith("id,customerId,method,status,score,reason,createdAt,apiKeyPrefix\r\n")).toBe(true);
    const [header, ...rows] = parseCsv(res.body);
    expect(header).toEqual(HEADER);
    expect(rows).toEqual(await expectedRows());
    expect(rows).toHaveLength(51);
    expect(rows.some((r) => r[7] === keyPrefix)).toBe(true);
    expect(res.body).not.toContain("RAW-SECRET");
    expect(res.body).not.toContain(bank.key);
    expect(res.body).not.toContain("theirs");
  });

  it("neutralises formula cells and quotes per RFC 4180", async () => {
    const res = await get(bank, "status=failed");
    const reasons = parseCsv(res.body).slice(1).map((r) => r[5]);
    for (const hostile of HOSTILE) {
      const shown = /^[=+\-@\t\r]/.test(hostile) ? `'${hostile}` : hostile;
      expect(reasons, hostile).toContain(shown);
    }
    // raw text: a cell with a quote, comma or line break is quoted, its quotes doubled
    expect(res.body).toContain('"say ""hi"""');
    expect(res.body).toContain('"two\r\nlines"');
    expect(res.body).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(res.body).toContain(",'-2,");
    expect([csvCell(null), csvCell(42), csvCell("-1"), csvCell("plain"), csvCell("\r")]).toEqual(["", "42", "'-1", "plain", `"'\r"`]);
  });

  it("takes the listing's filters, alone and combined", async () => {
    const cases: [string, Record<string, unknown>][] = [
      ["method=nik_dukcapil", { method: "nik_dukcapil" }],
      ["status=failed&method=face_match", { status: "failed", method: "face_match" }],
      [`customerId=${customers[1]}`, { customerId: customers[1] }],
      ["from=2026-11-01T00:05:00Z&to=2026-11-01T00:09:00%2B00:00", { createdAt: { gte: new Date("2026-11-01T00:05:00Z"), lt: new Date("2026-11-01T00:09:00Z") } }],
    ];
    for (const [query, where] of cases) {
      const want = await expectedRows(where);
      expect(want.length, query).toBeGreaterThan(0);
      expect(parseCsv((await get(bank, query)).body).slice(1), query).toEqual(want);
    }
    const none = await get(bank, "from=2030-01-01T00:00:00Z");
    expect(none.statusCode).toBe(200);
    expect(none.body).toBe("id,customerId,method,status,score,reason,createdAt,apiKeyPrefix\r\n");
  });

  it("400 in the error shape for bad filters or paging parameters", async () => {
    for (const [query, field] of [
      ["method=nope", "method"],
      ["from=yesterday", "from"],
      ["from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"],
      ["limit=10", "limit"],
      ["page=2", "page"],
    ] as const) {
      const res = await get(bank, query);
      expect(res.statusCode, query).toBe(400);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.json(), query).toMatchObject({ code: "validation_failed", details: { fieldErrors: { [field]: expect.any(Array) } } });
    }
  });

  it("401 without a key, 403 without verifications:view, 429 past its own bucket (10/min by default)", async () => {
    expect((await get(undefined)).statusCode).toBe(401);
    const viewer = await ctx.tenant({ scopes: ["customers:view"] });
    expect((await get(viewer)).statusCode).toBe(403);
    const plain = await ctx.tenant();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await get(plain)).statusCode);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    const refused = await get(plain);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: "rate_limited", bucket: "identity.attempts.export", limit: 10 });
    // the listing's own bucket is untouched
    expect((await plain.post("/api/customers", {})).statusCode).toBe(201);
    expect((await app.inject({ method: "GET", url: "/api/identity/attempts", headers: plain.auth })).statusCode).toBe(200);
  });

  it("stops querying when the reader goes away (the page iterator is returned)", async () => {
    const service = createAttemptsService({ prisma: ctx.prisma, exportPageRows: 2 });
    const pages = service.exportPages(bank.orgId, {});
    const stream = await attemptsCsvStream(pages);
    const first = await new Promise<string>((resolve) => stream.once("data", (c: Buffer) => resolve(c.toString())));
    expect(first.startsWith("id,customerId,")).toBe(true);
    stream.destroy();
    await new Promise((r) => stream.once("close", r));
    expect(await pages.next()).toEqual({ done: true, value: undefined });
  });
});
