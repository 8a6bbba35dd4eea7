// Authentication and the route hooks' order: 400 (key in URL) → 401 → 429 → scope 403 → capability 403 →
// only then the body (415/413/400). Every response carries the request id; error bodies repeat it.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "../../src/app.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createId } from "@paralleldrive/cuid2";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant();
});
afterAll(() => ctx.close());

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const secret = () => Array.from(randomBytes(32), (b) => BASE32[b % 32]).join("");

/** A cheap request through every hook: a verdict for a customer that does not exist is a 404. */
function ingest(headers: Record<string, string | undefined>, payload: string | object = { customerId: createId(), valid: false }, url = INGEST) {
  const h = Object.fromEntries(Object.entries({ "content-type": "application/json", ...headers }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return ctx.app.inject({ method: "POST", url, headers: h, payload: payload as object });
}

function expectError(res: LightMyRequestResponse, status: number, error: string, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  const requestId = res.headers["x-request-id"];
  expect(requestId).toEqual(expect.any(String));
  expect(res.json()).toEqual({ error, code, requestId });
}
const expect401 = (res: LightMyRequestResponse) => expectError(res, 401, "missing or invalid Bearer", "unauthorized");

describe("401: every way of not presenting a valid key is the same answer", () => {
  it("missing header, wrong scheme, wrong prefix, case-changed secret, unknown key, junk", async () => {
    const k = bank.key;
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      empty: "",
      "scheme only": "Bearer",
      "scheme and space": "Bearer ",
      basic: `Basic ${Buffer.from(`${k}:`).toString("base64")}`,
      token: `Token ${k}`,
      "no scheme": k,
      "two spaces": `Bearer  ${k}`,
      "trailing junk": `Bearer ${k} x`,
      "publishable prefix": `Bearer ${k.replace("qe_sk_", "qe_pk_")}`,
      "no qe_ prefix": `Bearer ${k.replace("qe_sk_", "sk_")}`,
      "other env": `Bearer ${k.replace("_sandbox_", "_live_")}`,
      "unknown env": `Bearer ${k.replace("_sandbox_", "_test_")}`,
      "lowercase secret": `Bearer ${k.slice(0, 14)}${k.slice(14).toLowerCase()}`,
      "uppercase prefix": `Bearer ${k.slice(0, 14).toUpperCase()}${k.slice(14)}`,
      "unknown well-formed key": `Bearer qe_sk_sandbox_${secret()}`,
      "unknown live key": `Bearer qe_sk_live_${secret()}`,
      "one char short": `Bearer ${k.slice(0, -1)}`,
      "one char long": `Bearer ${k}A`,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const res = await ingest({ authorization });
      expect(res.statusCode, name).toBe(401);
      expect401(res);
      expect(res.headers["x-ratelimit-limit"], name).toBeUndefined(); // nothing was counted for nobody
      // RFC 6750 §3: the challenge; invalid_token when a Bearer token came and was no valid key
      expect(res.headers["www-authenticate"], name).toBe(/^bearer(\s|$)/i.test(authorization ?? "") ? 'Bearer error="invalid_token"' : "Bearer");
    }
    expect((await ingest({})).headers["www-authenticate"]).toBe("Bearer");
    expect((await ingest({ authorization: `Bearer qe_sk_sandbox_${secret()}` })).headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
    // on every route that needs a key
    for (const url of ["/api/identity/attempts", `/api/identity/kyc/${createId()}`]) {
      const res = await ctx.app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(401);
      expect(res.headers["www-authenticate"]).toBe("Bearer");
    }
    // and the real key passes every hook (a 404 for the made-up customer), whatever the scheme's case
    expect((await ingest(bank.auth)).statusCode).toBe(404);
    for (const scheme of ["bearer", "BEARER"]) expect((await ingest({ authorization: `${scheme} ${k}` })).statusCode, scheme).toBe(404);
  });

  it("a revoked key and an expired key", async () => {
    const t = await ctx.tenant();
    expect((await ingest(t.auth)).statusCode).toBe(404);
    await ctx.services.apiKeys.revoke(t.keyId);
    expect401(await ingest(t.auth));
    expect((await ingest(t.auth)).headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
    expect401(await t.post("/api/customers", {}));

    const u = await ctx.tenant();
    const soon = await ctx.services.apiKeys.create({ orgId: u.orgId, scopes: ["verifications:view"], expiresAt: new Date(Date.now() + 60_000) });
    expect((await ingest({ authorization: `Bearer ${soon.key}` })).statusCode).toBe(404);
    await ctx.prisma.apiKey.update({ where: { id: soon.id }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect401(await ingest({ authorization: `Bearer ${soon.key}` }));
    // the org's other key is unaffected
    expect((await ingest(u.auth)).statusCode).toBe(404);
  });
});

describe("400: a key in the URL is refused, with or without a valid header", () => {
  it("on the ingest, on customers and on health routes", async () => {
    const k = bank.key;
    const queries = [
      `api_key=${k}`,
      `api_key=whatever`,
      `apikey=x`,
      `key=${k}`,
      `access_token=${k}`,
      `token=abc`,
      `Authorization=Bearer%20${k}`,
      `foo=${k}`,
      `foo=prefix-${encodeURIComponent(k)}-suffix`,
      `page=1&note=${k}`,
      `a=1&a=${k}`,
      `x=qe_sk_live_short`,
      k, // the key as a bare parameter name
      `${k}=`,
      `x=1&${k}`,
    ];
    for (const q of queries) {
      for (const headers of [bank.auth, {}]) {
        for (const url of [`${INGEST}?${q}`, `/api/customers?${q}`]) {
          const res = await ingest(headers, { customerId: createId(), valid: false }, url);
          expect(res.statusCode, `${url} ${JSON.stringify(Object.keys(headers))}`).toBe(400);
          expect(res.json()).toEqual({ error: expect.stringMatching(/Authorization header/), code: "key_in_query", requestId: res.headers["x-request-id"] });
          expect(res.body).not.toContain(k);
        }
      }
      const health = await ctx.app.inject({ method: "GET", url: `/healthz?${q}` });
      expect(health.statusCode, q).toBe(400);
      const unknownRoute = await ctx.app.inject({ method: "GET", url: `/no/such/route?${q}` });
      expect(unknownRoute.statusCode, q).toBe(400);
    }
  });

  it("anywhere in the path too, percent-encoded or not, on known and unknown routes, and never in a log line", async () => {
    const lines: string[] = [];
    const app: FastifyInstance = await buildApp({ prisma: ctx.prisma, services: ctx.services, logLevel: "trace", logStream: { write: (l) => void lines.push(l) } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    try {
      const k = bank.key;
      const secretPart = k.slice("qe_sk_sandbox_".length);
      const pct = (s: string) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("");
      const paths = [
        `/${k}`,
        `/qe_sk_live_${secret()}`,
        `/api/identity/kyc/${k}`,
        `/api/identity/kyc/${k.replaceAll("_", "%5F")}`,
        `/api/identity/kyc/${pct(k)}`,
        `/api/identity/kyc/${pct(k).replaceAll("%", "%25")}`, // encoded twice
        `/api/identity/kyc/${k.toUpperCase()}`,
        `/api/identity/kyc/${k}%zz`, // and a malformed escape: refused by the router, as a key
        `/api/identity/kyc/${k}${"x".repeat(200)}`, // and over the parameter cap
        `/api/customers/${k}`,
        `/healthz/${k}`,
        `/api/identity/attempts/${encodeURIComponent(`Bearer ${k}`)}`,
        `/docs/${k}`,
      ];
      for (const path of paths) {
        for (const headers of [bank.auth, {}]) {
          const injected = await app.inject({ method: "GET", url: path, headers });
          const real = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
          const realBody = await real.text();
          for (const [status, body, requestId] of [
            [injected.statusCode, injected.body, injected.headers["x-request-id"]],
            [real.status, realBody, real.headers.get("x-request-id")],
          ] as const) {
            expect(status, path).toBe(400);
            expect(JSON.parse(body)).toEqual({ error: expect.stringMatching(/Authorization header/), code: "key_in_query", requestId });
            expect(body).not.toContain(secretPart);
          }
        }
        const post = await app.inject({ method: "POST", url: path, headers: { ...bank.auth, "content-type": "application/json" }, payload: "{}" });
        expect(post.statusCode, `POST ${path}`).toBe(400);
      }
      const log = lines.join("");
      expect(lines.length).toBeGreaterThan(paths.length * 4);
      expect(log).toMatch(/"msg":"incoming request"/);
      expect(log).toMatch(/"msg":"request completed"/);
      expect(log).toMatch(/\[redacted: the path held an API key\]/);
      // neither the key nor any spelling of it (the secret's characters, plain or percent-encoded)
      expect(log).not.toMatch(/qe_sk_/i);
      expect(log).not.toContain(secretPart);
      expect(log.toLowerCase()).not.toContain(pct(secretPart).toLowerCase());
      expect(log).not.toMatch(/qe%5Fsk/i);
    } finally {
      await app.close();
    }
  });

  it("an ordinary query parameter is not mistaken for a key", async () => {
    expect((await ingest(bank.auth, { customerId: createId(), valid: false }, `${INGEST}?page=1&keyboard=qwerty`)).statusCode).toBe(404);
    expect((await ctx.app.inject({ method: "GET", url: "/healthz?verbose=1" })).statusCode).toBe(200);
  });
});

describe("403: scope and capability", () => {
  it("a key without verifications:view", async () => {
    const t = await ctx.tenant({ scopes: ["customers:write", "customers:view"] });
    expectError(await ingest(t.auth), 403, "missing scope: verifications:view", "missing_scope");
    // the same key may do what it is scoped for
    expect((await t.post("/api/customers", {})).statusCode).toBe(201);
  });

  it("a key without customers:write on POST /api/customers", async () => {
    const t = await ctx.tenant({ scopes: ["verifications:view"] });
    expectError(await t.post("/api/customers", {}), 403, "missing scope: customers:write", "missing_scope");
  });

  it("an org without the Dukcapil capability, and switching it on takes effect at once", async () => {
    const t = await ctx.tenant({ dukcapil: false });
    expectError(await ingest(t.auth), 403, "org capability disabled: dukcapilEnabled", "capability_disabled");
    await ctx.services.orgs.update(t.orgId, { dukcapilEnabled: true });
    expect((await ingest(t.auth)).statusCode).toBe(404);
    await ctx.services.orgs.update(t.orgId, { dukcapilEnabled: false });
    expectError(await ingest(t.auth), 403, "org capability disabled: dukcapilEnabled", "capability_disabled");
  });
});

describe("hook order", () => {
  const huge = `{"customerId":"${"x".repeat(9 * 1024 * 1024)}"}`;

  it("401 comes before the body: wrong content type, huge body, malformed JSON, bad fields", async () => {
    expect401(await ingest({ "content-type": "text/plain" }, "hello"));
    expect401(await ingest({}, huge));
    expect401(await ingest({ authorization: "Bearer nope" }, huge));
    expect401(await ingest({}, "{"));
    expect401(await ingest({}, { valid: "yes" }));
    expect401(await ingest({ "content-type": "text/plain" }, "hello", "/api/customers"));
  });

  it("401 before 429: an exhausted key's limit does not answer for a bad key", async () => {
    const t = await ctx.tenant({ limits: { "identity.nik.dukcapil": 1 } });
    expect((await ingest(t.auth)).statusCode).toBe(404);
    expect((await ingest(t.auth)).statusCode).toBe(429);
    expect401(await ingest({ authorization: `Bearer ${t.key.slice(0, -1)}${t.key.endsWith("A") ? "B" : "A"}` }));
    expect401(await ingest({}));
  });

  it("429 before scope 403, and before 415/413", async () => {
    const t = await ctx.tenant({ scopes: ["customers:view"], dukcapil: false, limits: { "identity.nik.dukcapil": 2 } });
    expect((await ingest(t.auth)).json().code).toBe("missing_scope");
    expect((await ingest(t.auth)).json().code).toBe("missing_scope");
    const limited = await ingest(t.auth);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: "rate limit exceeded", bucket: "identity.nik.dukcapil", limit: 2 });
    expect((await ingest({ ...t.auth, "content-type": "text/plain" }, "hello")).statusCode).toBe(429);
    expect((await ingest(t.auth, huge)).statusCode).toBe(429);
  });

  it("scope 403 before capability 403, and both before 415/413/400", async () => {
    const noScopeNoCap = await ctx.tenant({ scopes: ["customers:write"], dukcapil: false });
    for (const [headers, body] of [
      [{}, { customerId: createId(), valid: false }],
      [{ "content-type": "text/plain" }, "hello"],
      [{}, huge],
      [{}, "{not json"],
      [{}, { valid: 1 }],
    ] as const) {
      expectError(await ingest({ ...noScopeNoCap.auth, ...headers }, body), 403, "missing scope: verifications:view", "missing_scope");
    }
    const scopeNoCap = await ctx.tenant({ dukcapil: false });
    for (const [headers, body] of [
      [{ "content-type": "text/plain" }, "hello"],
      [{}, huge],
      [{}, "{not json"],
      [{}, { valid: 1 }],
    ] as const) {
      expectError(await ingest({ ...scopeNoCap.auth, ...headers }, body), 403, "org capability disabled: dukcapilEnabled", "capability_disabled");
    }
    // with everything granted, the body's own errors finally show
    expect((await ingest({ ...bank.auth, "content-type": "text/plain" }, "hello")).statusCode).toBe(415);
    expect((await ingest(bank.auth, huge)).statusCode).toBe(413);
    expect((await ingest(bank.auth, "{not json")).statusCode).toBe(400);
    expect((await ingest(bank.auth, { valid: 1 })).statusCode).toBe(400);
  });

  it("POST /api/customers: scope 403 before 415/413/400", async () => {
    const t = await ctx.tenant({ scopes: ["verifications:view"] });
    expect((await t.post("/api/customers", "hello", { "content-type": "text/plain" })).statusCode).toBe(403);
    expect((await t.post("/api/customers", `{"externalRef":"${"a".repeat(70 * 1024)}"}`)).statusCode).toBe(403);
    expect((await t.post("/api/customers", "{")).statusCode).toBe(403);
    expect((await bank.post("/api/customers", `{"externalRef":"${"a".repeat(70 * 1024)}"}`)).statusCode).toBe(413);
  });
});

describe("request ids", () => {
  it("every response carries x-request-id, and error bodies repeat it", async () => {
    const t = await ctx.tenant({ limits: { "identity.nik.dukcapil": 1 } });
    const responses = [
      await ingest(t.auth),
      await ingest(t.auth), // 429
      await ingest({}),
      await ingest(bank.auth, "{"),
      await ingest({ ...bank.auth, "content-type": "text/plain" }, "x"),
      await bank.post("/api/customers", {}),
      await ctx.app.inject({ method: "GET", url: "/healthz" }),
      await ctx.app.inject({ method: "GET", url: "/readyz" }),
      await ctx.app.inject({ method: "GET", url: "/nope" }),
      await ctx.app.inject({ method: "GET", url: `/healthz?api_key=x` }),
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([404, 429, 401, 400, 415, 201, 200, 200, 404, 400]);
    const ids = responses.map((r) => r.headers["x-request-id"]);
    for (const [i, r] of responses.entries()) {
      expect(ids[i], String(r.statusCode)).toMatch(/^req_[0-9A-Z]{26}$/);
      if (r.statusCode >= 400) expect(r.json().requestId).toBe(ids[i]);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("a sane incoming X-Request-Id is echoed; anything else is replaced", async () => {
    for (const given of ["abcdefgh", "trace-1234:span.5_6", "A".repeat(128), "550e8400-e29b-41d4-a716-446655440000"]) {
      for (const res of [await ingest({ ...bank.auth, "x-request-id": given }), await ingest({ "x-request-id": given })]) {
        expect(res.headers["x-request-id"]).toBe(given);
        expect(res.json().requestId).toBe(given);
      }
    }
    for (const given of ["short", "A".repeat(129), "has space inside", "semi;colon1", "new\\line123", "<script>x</script>"]) {
      const res = await ingest({ "x-request-id": given });
      expect(res.statusCode).toBe(401);
      expect(res.headers["x-request-id"]).toMatch(/^req_[0-9A-Z]{26}$/);
      expect(res.json().requestId).toBe(res.headers["x-request-id"]);
    }
  });

  it("an X-Request-Id that holds an API key is replaced, so the key is never echoed, logged or stored", async () => {
    const lines: string[] = [];
    const app: FastifyInstance = await buildApp({ prisma: ctx.prisma, services: ctx.services, logLevel: "trace", logStream: { write: (l) => void lines.push(l) } });
    try {
      const customerId = await bank.customer();
      for (const given of [bank.key, `trace:${bank.key.toUpperCase()}`]) {
        const res = await app.inject({
          method: "POST",
          url: "/api/identity/nik/dukcapil",
          headers: { ...bank.auth, "content-type": "application/json", "x-request-id": given },
          payload: { customerId, valid: false, reason: "request id" },
        });
        expect(res.statusCode).toBe(201);
        expect(res.headers["x-request-id"]).toMatch(/^req_[0-9A-Z]{26}$/);
        const stored = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } });
        expect(stored.requestId).toBe(res.headers["x-request-id"]);
      }
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join("").toLowerCase()).not.toContain(bank.key.slice("qe_sk_sandbox_".length).toLowerCase());
    } finally {
      await app.close();
    }
  });
});
