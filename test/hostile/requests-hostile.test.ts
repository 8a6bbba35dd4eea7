// Hostile URLs and query strings against every route (the ingest's bodies are ingest-hostile.test.ts): paths
// with malformed percent-escapes, over-long parameters, API keys anywhere in them (plain, encoded, in any
// case), and the attempts listing's filters and cursors at their extremes. For every case: never a 5xx, the
// platform's error shape with X-Request-Id and the security headers on every refusal, no echo of the path,
// no row written, and no key in any log line. Through app.inject and, for the framing of the URL itself, a
// real socket. Prints its figures like the ingest corpus.
import { randomBytes } from "node:crypto";
import net from "node:net";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";

let ctx: TestContext;
let app: FastifyInstance;
let port: number;
let bank: Tenant;
const lines: string[] = [];
const figures = { tried: 0, fiveXx: 0, rowsByRefused: 0, keyInUrl: 0, byStatus: {} as Record<string, number> };

const ROUTES = ["/api/identity/kyc/", "/api/identity/attempts/", "/api/customers/", "/api/identity/nik/dukcapil/", "/healthz/", "/", "/docs/", "/openapi.json/"];
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.attempts.list": 100_000, "identity.kyc.read": 100_000, "customers.create": 100_000, "identity.nik.dukcapil": 100_000 } });
  // the same services, logging everything to a stream the corpus reads
  app = await buildApp({ prisma: ctx.prisma, services: ctx.services, logLevel: "trace", logStream: { write: (l) => void lines.push(l) } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  console.log(
    `[hostile] URLs: ${figures.tried} cases tried on ${process.env.TEST_DB ?? "pglite"}: ${figures.fiveXx} 5xx, ${figures.rowsByRefused} rows written by refused requests, ` +
      `${figures.keyInUrl} with a key in the URL (all refused, none logged); by status ${JSON.stringify(figures.byStatus)}`,
  );
  await app.close();
  await ctx.close();
});

const rowCount = async () => (await ctx.prisma.verification.count()) + (await ctx.prisma.customer.count()) + (await ctx.prisma.apiKey.count());

interface Outcome {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Writes one request line as given (no client normalises it) and reads the answer. */
function raw(method: string, target: string, auth = true): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (c: string) => (data += c));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = data.split("\r\n\r\n", 2);
      const [statusLine = "", ...hl] = head.split("\r\n");
      const headers = Object.fromEntries(hl.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer")));
    socket.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: ${bank.auth.authorization}\r\n` : ""}Connection: close\r\n\r\n`);
  });
}

/** One case: no 5xx, nothing written when refused, the error shape and headers on a refusal, no path echoed. */
async function attempt(name: string, send: () => Promise<Outcome>, opts: { path?: string; keyInUrl?: boolean } = {}) {
  const before = await rowCount();
  const out = await send();
  const written = (await rowCount()) - before;
  figures.tried++;
  figures.byStatus[String(out.status)] = (figures.byStatus[String(out.status)] ?? 0) + 1;
  if (out.status >= 500) {
    figures.fiveXx++;
    throw new Error(`${name}: ${out.status} ${out.body.slice(0, 300)}`);
  }
  if (out.status >= 300 && written) {
    figures.rowsByRefused += written;
    throw new Error(`${name}: refused but wrote ${written} row(s)`);
  }
  expect(out.headers["x-request-id"], name).toMatch(/^req_[0-9A-Z]{26}$/);
  expect(out.headers["x-content-type-options"], name).toBe("nosniff");
  expect(out.headers["cache-control"], name).toBe("no-store");
  // (the /docs pages have a CSP of their own that lets their scripts run)
  if (opts.path?.startsWith("/docs/") && out.status < 400) expect(out.headers["content-security-policy"], name).toContain("default-src 'self'");
  else expect(out.headers["content-security-policy"], name).toMatch(/^default-src '(none|self)'/);
  if (out.status >= 400) {
    const body = JSON.parse(out.body) as Record<string, unknown>;
    expect(typeof body.error === "string" && typeof body.code === "string", `${name}: ${out.body.slice(0, 200)}`).toBe(true);
    expect(body.requestId, name).toBe(out.headers["x-request-id"]);
    if (opts.path && opts.path.length > 12) expect(out.body, name).not.toContain(opts.path.slice(-12));
  }
  if (opts.keyInUrl) {
    figures.keyInUrl++;
    expect(out.status, name).toBe(400);
    expect(JSON.parse(out.body).code, name).toBe("key_in_query");
  }
  return out;
}

const inject = (method: "GET" | "POST", url: string) => async (): Promise<Outcome> => {
  const res = await app.inject({ method, url, headers: { ...bank.auth, "content-type": "application/json" }, payload: method === "POST" ? "{}" : undefined });
  return { status: res.statusCode, headers: res.headers as Outcome["headers"], body: res.body };
};

describe("hostile URLs", () => {
  it("property: arbitrary path segments (bytes, escapes good and bad, long ones) on every route", async () => {
    const segment = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9._~-]{0,250}$/),
      fc.uint8Array({ maxLength: 120 }).map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, "0")}`).join("")),
      fc.stringMatching(/^(%[0-9A-Za-z]{0,2}|[a-z]){1,40}$/), // truncated and malformed escapes
      fc.constantFrom("%", "%%", "%zz", "%E0%A4%A", "%C0%AF", "%00", "%2e%2e%2f", "..%2f..%2fetc%2fpasswd", "a".repeat(201), "%61".repeat(201)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), segment, fc.constantFrom("GET" as const, "POST" as const), fc.boolean(), async (route, seg, method, viaSocket) => {
        const path = `${route}${seg}`;
        await attempt(`${method} ${path.slice(0, 80)}`, viaSocket ? () => raw(method, path) : inject(method, path), { path });
      }),
      { numRuns: 400 },
    );
  });

  it("property: an API key anywhere in the URL, however spelled, is a 400 key_in_query and in no log line", async () => {
    const secret = fc.array(fc.constantFrom(...BASE32), { minLength: 32, maxLength: 32 }).map((a) => a.join(""));
    const spelled = fc.tuple(fc.constantFrom("sandbox", "live"), secret, fc.constantFrom("plain", "underscores", "all", "twice", "upper")).map(([env, s, how]) => {
      const key = `qe_sk_${env}_${s}`;
      const pct = (t: string) => [...t].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("");
      return { secret: s, text: { plain: key, underscores: key.replaceAll("_", "%5F"), all: pct(key), twice: pct(key).replaceAll("%", "%25"), upper: key.toUpperCase() }[how] };
    });
    const secrets: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), spelled, fc.constantFrom("", "x/", "%zz", "?a=1", "x".repeat(210)), fc.boolean(), async (route, key, around, viaSocket) => {
        secrets.push(key.secret);
        const path = around.startsWith("?") ? `${route}${key.text}${around}` : `${route}${around.slice(0, 2)}${key.text}${around.slice(2)}`;
        await attempt(`GET ${path.slice(0, 60)}…`, viaSocket ? () => raw("GET", path, false) : inject("GET", path), { path, keyInUrl: true });
      }),
      { numRuns: 200 },
    );
    const log = lines.join("");
    expect(log).not.toMatch(/qe_sk_/i);
    for (const s of secrets) expect(log, s).not.toContain(s);
  });

  it("property: the attempts listing's filters, pages and cursors at their extremes", async () => {
    const digits = fc.stringMatching(/^\d{1,20}$/);
    const stamp = fc.oneof(
      fc.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,12})?(Z|[+-]\d\d:\d\d)$/),
      fc.constantFrom("0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59", "2026-12-31T23:59:60Z", "2026-02-29T00:00:00Z", "2026-01-01T00:00:00+24:00", "yesterday", ""),
    );
    const cursor = fc.oneof(
      fc.tuple(digits, fc.stringMatching(/^[A-Za-z0-9_]{1,64}$/), digits, fc.stringMatching(/^[A-Za-z0-9_-]{11}$/)).map((p) => Buffer.from(p.join(".")).toString("base64url")),
      fc.string({ maxLength: 250 }),
    );
    const param = fc.oneof(
      stamp.map((v) => ["from", v] as const),
      stamp.map((v) => ["to", v] as const),
      digits.map((v) => ["page", v] as const),
      digits.map((v) => ["limit", v] as const),
      cursor.map((v) => ["cursor", v] as const),
      fc.constantFrom(["method", "nik_dukcapil"] as const, ["status", "failed"] as const, ["customerId", "c".repeat(300)] as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 5 }), async (params) => {
        const query = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
        await attempt(`attempts?${query.slice(0, 100)}`, inject("GET", `/api/identity/attempts?${query}`));
      }),
      { numRuns: 300 },
    );
  });

  it("afterwards: healthy and serving", async () => {
    expect(figures.fiveXx).toBe(0);
    expect(figures.rowsByRefused).toBe(0);
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    const res = await app.inject({ method: "POST", url: "/api/customers", headers: { ...bank.auth, "content-type": "application/json" }, payload: { externalRef: `after-${randomBytes(3).toString("hex")}` } });
    expect(res.statusCode).toBe(201);
  });
});
