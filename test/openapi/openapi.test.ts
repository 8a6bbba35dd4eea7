// The committed contract is what the code generates, documents every route, and tells the truth about the
// headers and examples it promises.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenAPIV3_1 } from "openapi-types";
import { parse } from "yaml";
import { z } from "zod";
import { EXAMPLES, ErrorResponse, openapiYaml } from "../../src/http/openapi.js";
import { AttemptsListResponse } from "../../src/modules/attempts/attempts-schemas.js";
import { CustomerData, CreateCustomerBody } from "../../src/modules/customers/customers-schemas.js";
import { DukcapilVerdictBody, DukcapilVerdictResponse } from "../../src/modules/dukcapil/dukcapil-schemas.js";
import { FaceMatchBody, FaceMatchResponse } from "../../src/modules/face-match/face-match-schemas.js";
import { KycDetailResponse } from "../../src/modules/kyc/kyc-schemas.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";

const FILE = path.resolve(import.meta.dirname, "../../openapi.yaml");
let ctx: TestContext;
let bank: Tenant;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 2 } });
});
afterAll(() => ctx.close());

/** Every route of the router's tree ("├── /api/identity/attempts (GET, HEAD)", "│   └── /export (GET, HEAD)"). */
function servedRoutes(): [string, string[]][] {
  const out: [string, string[]][] = [];
  const stack: string[] = [];
  for (const line of ctx.app.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const route = `${depth ? stack[depth - 1] : ""}${m[2]}`;
    stack[depth] = route;
    if (m[3]) out.push([route, m[3].split(", ")]);
  }
  return out;
}

const doc = () => parse(readFileSync(FILE, "utf8")) as OpenAPIV3_1.Document;
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

describe("openapi.yaml", () => {
  it("is exactly what the code generates (run `npm run openapi` after changing a route)", () => {
    expect(openapiYaml(ctx.app)).toBe(readFileSync(FILE, "utf8"));
  });

  it("documents every route the app serves, except the docs themselves", () => {
    const documented = new Set<string>();
    for (const [p, item] of Object.entries(doc().paths!)) {
      for (const m of METHODS) if (item?.[m]) documented.add(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ":$1")}`);
    }
    const served = new Set<string>();
    for (const [route, methods] of servedRoutes()) {
      if (route === "/openapi.json" || route.startsWith("/docs") || route.startsWith("/console")) continue;
      for (const method of methods) if (method !== "HEAD") served.add(`${method} ${route}`);
    }
    expect(served.size).toBeGreaterThanOrEqual(7);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it("every API operation: bearer security, error statuses in the error shape, request-id and rate-limit headers", () => {
    const d = doc();
    expect(d.openapi).toBe("3.1.0");
    expect(d.components?.securitySchemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [p, item] of Object.entries(d.paths!)) {
      for (const m of METHODS) {
        const op = item?.[m];
        if (!op) continue;
        const responses = op.responses as Record<string, OpenAPIV3_1.ResponseObject>;
        for (const [status, r] of Object.entries(responses)) {
          expect(r.headers?.["X-Request-Id"], `${m} ${p} ${status}`).toBeDefined();
          if (Number(status) >= 400) {
            expect(r.content?.["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/Error" });
          }
        }
        if (!p.startsWith("/api/")) continue;
        expect(op.security).toEqual([{ bearerAuth: [] }]);
        for (const s of ["400", "401", "403", "429", "500", "503"]) expect(Object.keys(responses), `${m} ${p}`).toContain(s);
        expect(responses["200"] ?? responses["201"]).toBeDefined();
        expect(Object.keys(responses["200"]?.headers ?? responses["201"]!.headers!)).toEqual(
          expect.arrayContaining(["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]),
        );
        expect(Object.keys(responses["429"]!.headers!)).toContain("Retry-After");
        expect(Object.keys(responses["401"]!.headers!)).toContain("WWW-Authenticate");
      }
    }
    expect(Object.keys(d.paths!["/api/identity/nik/dukcapil"]!.post!.responses!)).toEqual(expect.arrayContaining(["404", "409", "413", "415"]));
    expect(Object.keys(d.paths!["/api/identity/face/match"]!.post!.responses!)).toEqual(expect.arrayContaining(["404", "409", "413", "415", "422", "503"]));
  });

  it("its examples are valid for the zod schemas the routes validate and serialize with", () => {
    const schemas: Record<string, { request?: z.ZodType; responses: Record<number, z.ZodType> }> = {
      "post /api/customers": { request: CreateCustomerBody, responses: { 201: z.object({ data: CustomerData }) } },
      "post /api/identity/nik/dukcapil": { request: DukcapilVerdictBody, responses: { 201: DukcapilVerdictResponse, 403: ErrorResponse, 429: ErrorResponse } },
      "post /api/identity/face/match": { request: FaceMatchBody, responses: { 201: FaceMatchResponse, 409: ErrorResponse, 422: ErrorResponse, 503: ErrorResponse } },
      "get /api/identity/kyc/{customerId}": { responses: { 200: KycDetailResponse } },
      "get /api/identity/attempts": { responses: { 200: AttemptsListResponse } },
    };
    for (const [op, ex] of Object.entries(EXAMPLES)) {
      for (const value of Object.values(ex.request ?? {})) expect(schemas[op]!.request!.safeParse(value).error, op).toBeUndefined();
      for (const [status, values] of Object.entries(ex.responses ?? {})) {
        for (const value of Object.values(values)) expect(schemas[op]!.responses[Number(status)]!.safeParse(value).error, `${op} ${status}`).toBeUndefined();
      }
    }
    // The spec page's two verdict responses, verbatim in shape.
    const verdicts = EXAMPLES["post /api/identity/nik/dukcapil"]!.responses![201]!;
    expect(Object.keys(verdicts)).toEqual(["verified", "declined"]);
  });

  it("the headers it documents are the ones the service sends", async () => {
    const customerId = await bank.customer();
    const photo = b64(await jpeg());
    const ok = await bank.post("/api/identity/nik/dukcapil", { customerId, valid: true, photo });
    expect(ok.statusCode).toBe(201);
    for (const h of ["x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) expect(ok.headers[h], h).toBeDefined();
    await bank.post("/api/identity/nik/dukcapil", { customerId, valid: false });
    const limited = await bank.post("/api/identity/nik/dukcapil", { customerId, valid: false });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["retry-after"]).toBeDefined();
    expect(ErrorResponse.safeParse(limited.json()).success).toBe(true);
    expect(limited.json()).toMatchObject({ error: "rate limit exceeded", bucket: "identity.nik.dukcapil", limit: 2 });
    const csv = await ctx.app.inject({ method: "GET", url: "/api/identity/attempts/export", headers: bank.auth });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(csv.headers["content-disposition"]).toMatch(/^attachment; filename="[^"]+\.csv"$/);
    expect(doc().paths!["/api/identity/attempts/export"]!.get!.responses!["200"]).toMatchObject({
      content: { "text/csv": expect.any(Object) },
      headers: { "Content-Disposition": { $ref: "#/components/headers/Content-Disposition" } },
    });
    const unauth = await ctx.app.inject({ method: "GET", url: "/api/identity/attempts" });
    expect(unauth.statusCode).toBe(401);
    expect(unauth.headers["x-request-id"]).toBeDefined();
    expect(unauth.headers["www-authenticate"]).toBe("Bearer");
  });

  it("is served at /openapi.json, with human docs at /docs", async () => {
    const json = await ctx.app.inject({ method: "GET", url: "/openapi.json" });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toEqual(doc());
    const page = await ctx.app.inject({ method: "GET", url: "/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    // The API's CSP forbids scripts; the docs page allows its own.
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    const asset = await ctx.app.inject({ method: "GET", url: "/docs/static/swagger-ui-bundle.js" });
    expect(asset.statusCode).toBe(200);
    const api = await bank.post("/api/customers", {});
    expect(api.headers["content-security-policy"]).toContain("default-src 'none'");
  });
});
