import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createSealer } from "../../src/crypto/seal.js";
import { faceEngineOff } from "../../src/face/engine.js";
import { createServices, type Services } from "../../src/services.js";
import { openTestDatabase, type TestDatabase } from "../helpers/db.js";

const DASHBOARD = "https://dashboard.bank.example";
let db: TestDatabase;
let services: Services;
let plain: FastifyInstance;
let withCors: FastifyInstance;
let auth: { authorization: string };

beforeAll(async () => {
  db = await openTestDatabase();
  services = createServices({ prisma: db.prisma, sealer: createSealer([{ id: "t", key: randomBytes(32) }]), face: faceEngineOff });
  plain = await buildApp({ prisma: db.prisma, services, logLevel: "silent" });
  withCors = await buildApp({ prisma: db.prisma, services, logLevel: "silent", corsOrigins: [DASHBOARD, "http://localhost:5173"] });
  await Promise.all([plain.ready(), withCors.ready()]);
  const org = await services.orgs.create({ name: "Headers Bank", dukcapilEnabled: true });
  auth = { authorization: `Bearer ${(await services.apiKeys.create({ orgId: org.id, scopes: ["customers:write"] })).key}` };
});
afterAll(async () => {
  await plain.close();
  await withCors.close();
  await db.close();
});

describe("security headers", () => {
  it("every response, success or error, carries headers fit for a JSON API", async () => {
    const responses = [
      await plain.inject({ method: "GET", url: "/healthz" }),
      await plain.inject({ method: "POST", url: "/api/customers", headers: { ...auth, "content-type": "application/json" }, payload: {} }),
      await plain.inject({ method: "POST", url: "/api/customers", payload: {} }), // 401
      await plain.inject({ method: "GET", url: "/no/such/route" }), // 404
      await plain.inject({ method: "POST", url: "/api/customers", headers: { ...auth, "content-type": "text/plain" }, payload: "x" }), // 415
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([200, 201, 401, 404, 415]);
    for (const r of responses) {
      const h = r.headers;
      expect(h["content-security-policy"], r.body).toBe("default-src 'none';frame-ancestors 'none'");
      expect(h["x-frame-options"]).toBe("DENY");
      expect(h["x-content-type-options"]).toBe("nosniff");
      expect(h["referrer-policy"]).toBe("no-referrer");
      expect(h["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
      expect(h["cross-origin-resource-policy"]).toBe("same-origin");
      expect(h["cache-control"]).toBe("no-store");
      expect(h["x-powered-by"]).toBeUndefined();
      expect(h["access-control-allow-origin"]).toBeUndefined();
      expect(h["x-request-id"]).toEqual(expect.any(String));
    }
  });

  it("no CORS unless configured: no allow-origin, and a preflight is not answered", async () => {
    const get = await plain.inject({ method: "GET", url: "/healthz", headers: { origin: DASHBOARD } });
    expect(get.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await plain.inject({
      method: "OPTIONS",
      url: "/api/customers",
      headers: { origin: DASHBOARD, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(preflight.statusCode).toBe(404);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    expect(preflight.headers["access-control-allow-methods"]).toBeUndefined();
  });

  it("with CORS_ORIGINS: exactly those origins, no credentials, the API's headers allowed and exposed", async () => {
    const preflight = await withCors.inject({
      method: "OPTIONS",
      url: "/api/customers",
      headers: { origin: DASHBOARD, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,idempotency-key" },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe(DASHBOARD);
    expect(String(preflight.headers["access-control-allow-headers"]).split(/,\s*/)).toEqual(
      expect.arrayContaining(["authorization", "content-type", "idempotency-key"]),
    );
    expect(preflight.headers["access-control-allow-credentials"]).toBeUndefined();

    const post = await withCors.inject({
      method: "POST",
      url: "/api/customers",
      headers: { ...auth, origin: DASHBOARD, "content-type": "application/json" },
      payload: {},
    });
    expect(post.statusCode).toBe(201);
    expect(post.headers["access-control-allow-origin"]).toBe(DASHBOARD);
    expect(String(post.headers["access-control-expose-headers"])).toMatch(/x-request-id.*x-ratelimit-remaining.*idempotent-replayed/);

    for (const origin of ["https://evil.example", "https://dashboard.bank.example.evil.example", "null"]) {
      const res = await withCors.inject({ method: "GET", url: "/healthz", headers: { origin } });
      expect(res.headers["access-control-allow-origin"], origin).toBeUndefined();
    }
  });

  it("body and time limits are explicit", async () => {
    expect(plain.initialConfig.bodyLimit).toBe(64 * 1024);
    expect((plain.initialConfig as { requestTimeout?: number }).requestTimeout).toBe(30_000); // present at runtime, untyped
    expect(plain.initialConfig.connectionTimeout).toBe(60_000);
    const big = await plain.inject({
      method: "POST",
      url: "/api/customers",
      headers: { ...auth, "content-type": "application/json" },
      payload: `{"externalRef":"${"a".repeat(70 * 1024)}"}`,
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: "payload_too_large" });
  });
});

describe("CORS_ORIGINS configuration", () => {
  it("is off by default and takes a list of exact origins", () => {
    expect(loadConfig({}).corsOrigins).toBeUndefined();
    expect(loadConfig({ CORS_ORIGINS: "" }).corsOrigins).toBeUndefined();
    expect(loadConfig({ CORS_ORIGINS: `${DASHBOARD}, http://localhost:5173` }).corsOrigins).toEqual([DASHBOARD, "http://localhost:5173"]);
  });

  it("refuses wildcards, paths and non-origins with one clear line that does not echo the value", () => {
    for (const bad of ["*", "https://a.example/path", "a.example", "https://a.example,ftp://b.example", ","]) {
      let problems: string[] = [];
      try {
        loadConfig({ CORS_ORIGINS: bad });
      } catch (e) {
        problems = (e as ConfigError).problems;
      }
      expect(problems, bad).toEqual([expect.stringMatching(/^CORS_ORIGINS: must be a comma-separated list of origins/)]);
    }
  });
});
