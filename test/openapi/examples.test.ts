// openapi.yaml says what the service enforces, and its examples are true. Every documented example is
// replayed against the service as documented (request bodies, parameter examples, the Idempotency-Key header
// example) and must get the documented answer: the status of its response example, a body valid against the
// documented schema, the documented headers, and, ids, instants and what depends on the face engine set
// aside, exactly the example's content. Then the documented request schemas are held against what the
// service accepts and refuses, case by case and property by property.
import { setBPhoto } from "../face/eval-set.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import fc from "fast-check";
import type { LightMyRequestResponse } from "fastify";
import type { OpenAPIV3_1 } from "openapi-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { DukcapilVerdictBody } from "../../src/modules/dukcapil/dukcapil-schemas.js";
import { startFaceTemplateEngine, type FaceTemplateEngine } from "../../src/face/template-engine.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64 } from "../helpers/images.js";
import { gradient } from "../face/photos.js";

const doc = parse(readFileSync(path.resolve(import.meta.dirname, "../../openapi.yaml"), "utf8")) as OpenAPIV3_1.Document;
type Operation = OpenAPIV3_1.OperationObject;
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat("date-time", (s: string) => !Number.isNaN(Date.parse(s)));
ajv.addFormat("byte", z.regexes.base64);
ajv.addSchema({ $id: "spec", components: doc.components }, "spec");
const compiled = new Map<string, ValidateFunction>();
/** A validator for a schema of the document (its component references resolved against the document). */
function validator(schema: unknown): ValidateFunction {
  const text = JSON.stringify(schema).replaceAll('"#/components/', '"spec#/components/');
  let v = compiled.get(text);
  if (!v) compiled.set(text, (v = ajv.compile(JSON.parse(text) as object)));
  return v;
}
const errorsOf = (schema: unknown, value: unknown) => {
  const v = validator(schema);
  return v(value) ? [] : v.errors;
};

function operations(): [string, string, string, Operation][] {
  const out: [string, string, string, Operation][] = [];
  for (const [p, item] of Object.entries(doc.paths!)) {
    for (const m of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[m];
      if (op) out.push([`${m} ${p}`, m, p, op]);
    }
  }
  return out;
}
const operation = (key: string) => operations().find(([k]) => k === key)![3];
const requestMedia = (op: Operation) => (op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined)?.content?.["application/json"];
const parameters = (op: Operation) => (op.parameters ?? []) as OpenAPIV3_1.ParameterObject[];
const response = (op: Operation, status: number) => (op.responses as Record<string, OpenAPIV3_1.ResponseObject>)[String(status)];
const exampleValue = (e: OpenAPIV3_1.ExampleObject | OpenAPIV3_1.ReferenceObject) => (e as OpenAPIV3_1.ExampleObject).value as unknown;

/** Set aside in comparisons: values the service mints (ids, instants) and those of the face engine (off here). */
const MINTED = new Set(["id", "requestId", "createdAt", "kycLastVerifiedAt", "prefix"]);
const ENGINE = new Set(["fallbackStub", "fallbackCause", "model"]);
function setAside(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(setAside);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, ENGINE.has(k) ? "<face engine>" : MINTED.has(k) && x !== null ? `<${k}>` : setAside(x)]),
    );
  }
  return v;
}

/** One documented request, sent as documented, and the documented answer it must get. */
interface Scenario {
  op: string;
  /** A request body example's name, or "parameters" for the operation's parameter examples. */
  request: string;
  tenant: "bank" | "anotherBank" | "noCapability";
  /** Send the documented example of each header parameter. */
  headerExamples?: boolean;
  /** Repeat the request (up to this many times) until the expected status comes. */
  repeatUpTo?: number;
  /**
   * For operations with no request example (a face selfie is too large to document, and a real person's
   * face has no place in the document): the body to send, made at run time from package images, and the
   * service with the real face engine it is sent to. The example's engine-dependent fields are set aside.
   */
  built?: { body?: () => object; url?: () => string; onEngine: boolean; engineFields: string[] };
  expect: { status: number; example: string };
}

// The story the examples tell (src/http/openapi.ts): a customer is created; customer CUSTOMER_ID is declined,
// then verified; its KYC detail and the org's failed Dukcapil attempts are then the 200 examples; an org
// without the capability is refused; a key over its limit is refused.
const SCENARIOS: Scenario[] = [
  { op: "post /api/customers", request: "withRef", tenant: "anotherBank", headerExamples: true, expect: { status: 201, example: "created" } },
  { op: "post /api/identity/nik/dukcapil", request: "declined", tenant: "bank", expect: { status: 201, example: "declined" } },
  { op: "post /api/identity/nik/dukcapil", request: "verified", tenant: "bank", headerExamples: true, expect: { status: 201, example: "verified" } },
  { op: "get /api/identity/kyc/{customerId}", request: "parameters", tenant: "bank", expect: { status: 200, example: "standard" } },
  { op: "get /api/identity/attempts", request: "parameters", tenant: "bank", expect: { status: 200, example: "page" } },
  { op: "post /api/identity/nik/dukcapil", request: "verified", tenant: "noCapability", expect: { status: 403, example: "capabilityDisabled" } },
  { op: "post /api/identity/nik/dukcapil", request: "declined", tenant: "bank", repeatUpTo: 40, expect: { status: 429, example: "rateLimited" } },
  // The face match: a different photo of the man whose registry photo is the reference; a customer with no
  // reference; a photo with no face; and (on the engine-off service the rest of this file runs on) no engine.
  {
    op: "post /api/identity/face/match",
    request: "selfie of the reference's man",
    tenant: "bank",
    headerExamples: true,
    built: { body: () => ({ customerId: faces.referenced, photo: faces.sameMan }), onEngine: true, engineFields: ["score"] },
    expect: { status: 201, example: "verified" },
  },
  {
    op: "post /api/identity/face/match",
    request: "customer without reference",
    tenant: "bank",
    built: { body: () => ({ customerId: faces.unreferenced, photo: faces.sameMan }), onEngine: true, engineFields: [] },
    expect: { status: 409, example: "noReference" },
  },
  {
    op: "post /api/identity/face/match",
    request: "photo without a face",
    tenant: "bank",
    built: { body: () => ({ customerId: faces.referenced, photo: faces.faceless }), onEngine: true, engineFields: [] },
    expect: { status: 422, example: "noFace" },
  },
  {
    op: "post /api/identity/face/match",
    request: "no engine",
    tenant: "bank",
    built: { body: () => ({ customerId: faces.unreferencedOff, photo: faces.sameMan }), onEngine: false, engineFields: [] },
    expect: { status: 503, example: "engineDown" },
  },
  // The KYC detail of a customer whose biometric data was erased (admin customer erase) after a verdict.
  {
    op: "get /api/identity/kyc/{customerId}",
    request: "an erased customer",
    tenant: "bank",
    built: { url: () => `/api/identity/kyc/${faces.erased}`, onEngine: false, engineFields: ["erasedAt"] },
    expect: { status: 200, example: "erased" },
  },
];

let ctx: TestContext;
let tenants: Record<Scenario["tenant"], Tenant>;
/** The service with the real face engine, for the face match's scenarios. */
let engine: FaceTemplateEngine;
let engineCtx: TestContext;
let engineBank: Tenant;
const faces = { referenced: "", unreferenced: "", unreferencedOff: "", sameMan: "", faceless: "", erased: "" };

beforeAll(async () => {
  ctx = await createTestContext();
  tenants = { bank: await ctx.tenant(), anotherBank: await ctx.tenant(), noCapability: await ctx.tenant({ dukcapil: false }) };
  // The examples' customer exists in the bank's org (customer ids are minted by the service; this one is seeded).
  const customerId = exampleValue(requestMedia(operation("post /api/identity/nik/dukcapil"))!.examples!.verified!) as { customerId: string };
  await ctx.prisma.customer.create({ data: { id: customerId.customerId, orgId: tenants.bank.orgId } });

  engine = startFaceTemplateEngine({ workers: 1, timeoutMs: 20_000 });
  engineCtx = await createTestContext({ face: engine });
  engineBank = await engineCtx.tenant();
  const [reference, sameMan, faceless] = await Promise.all([setBPhoto("r1c01"), setBPhoto("r1c02"), gradient(), engine.ready]);
  faces.referenced = await engineBank.customer();
  expect((await engineBank.post("/api/identity/nik/dukcapil", { customerId: faces.referenced, valid: true, photo: b64(reference) })).statusCode).toBe(201);
  faces.unreferenced = await engineBank.customer();
  faces.unreferencedOff = await tenants.bank.customer();
  faces.sameMan = b64(sameMan);
  faces.faceless = b64(faceless);
  faces.erased = await tenants.bank.customer();
  expect((await tenants.bank.post("/api/identity/nik/dukcapil", { customerId: faces.erased, valid: true, photo: b64(reference) })).statusCode).toBe(201);
  await ctx.services.erasure.eraseCustomer({ customerId: faces.erased, reason: "the customer asked", actor: "examples test" });
});
afterAll(async () => {
  await ctx?.close();
  await engineCtx?.close();
  await engine?.close();
});

function send(s: Scenario): Promise<LightMyRequestResponse> {
  const [method, route] = s.op.split(" ") as [string, string];
  const op = operation(s.op);
  const onEngine = s.built?.onEngine === true;
  const headers: Record<string, string> = { ...(onEngine ? engineBank : tenants[s.tenant]).auth };
  if (s.headerExamples) {
    for (const p of parameters(op)) {
      const example = (p.schema as { example?: unknown } | undefined)?.example ?? p.example;
      if (p.in === "header" && example !== undefined) headers[p.name] = String(example);
    }
  }
  if (s.built) {
    const app = onEngine ? engineCtx.app : ctx.app;
    if (s.built.url) return app.inject({ method: method.toUpperCase() as "GET", url: s.built.url(), headers });
    return app.inject({ method: "POST", url: route, headers: { ...headers, "content-type": "application/json" }, payload: JSON.stringify(s.built.body!()) });
  }
  if (s.request === "parameters") {
    let url = route;
    const query: string[] = [];
    for (const p of parameters(op)) {
      if (p.example === undefined) continue;
      if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(String(p.example)));
      if (p.in === "query") query.push(`${p.name}=${encodeURIComponent(String(p.example))}`);
    }
    return ctx.app.inject({ method: method.toUpperCase() as "GET", url: query.length ? `${url}?${query.join("&")}` : url, headers });
  }
  const body = exampleValue(requestMedia(op)!.examples![s.request]!);
  return ctx.app.inject({ method: method.toUpperCase() as "POST", url: route, headers: { ...headers, "content-type": "application/json" }, payload: JSON.stringify(body) });
}

describe("every documented example, replayed against the service", () => {
  it("the scenarios cover every request, parameter, header and response example the document has", () => {
    const requests = new Set<string>();
    const responses = new Set<string>();
    const headerExamples = new Set<string>();
    for (const [key, , , op] of operations()) {
      for (const name of Object.keys(requestMedia(op)?.examples ?? {})) requests.add(`${key} ${name}`);
      if (parameters(op).some((p) => p.in !== "header" && p.example !== undefined)) requests.add(`${key} parameters`);
      for (const p of parameters(op)) if (p.in === "header" && (p.schema as { example?: unknown }).example !== undefined) headerExamples.add(key);
      for (const [status, r] of Object.entries(op.responses ?? {})) {
        for (const name of Object.keys((r as OpenAPIV3_1.ResponseObject).content?.["application/json"]?.examples ?? {})) responses.add(`${key} ${status} ${name}`);
      }
    }
    expect(requests.size).toBeGreaterThanOrEqual(5);
    expect([...new Set(SCENARIOS.filter((s) => !s.built).map((s) => `${s.op} ${s.request}`))].sort()).toEqual([...requests].sort());
    // a request is built only where the document has no request body example to send
    for (const s of SCENARIOS.filter((x) => x.built?.body)) expect(requestMedia(operation(s.op))?.examples, s.op).toBeUndefined();
    expect(SCENARIOS.map((s) => `${s.op} ${s.expect.status} ${s.expect.example}`).sort()).toEqual([...responses].sort());
    expect([...new Set(SCENARIOS.filter((s) => s.headerExamples).map((s) => s.op))].sort()).toEqual([...headerExamples].sort());
  });

  it("every request and parameter example is valid for its documented schema, every response example for its status's", () => {
    for (const [key, , , op] of operations()) {
      const media = requestMedia(op);
      for (const [name, e] of Object.entries(media?.examples ?? {})) expect(errorsOf(media!.schema, exampleValue(e)), `${key} ${name}`).toEqual([]);
      for (const p of parameters(op)) {
        const example = p.example ?? (p.schema as { example?: unknown }).example;
        if (example !== undefined) expect(errorsOf(p.schema, example), `${key} ${p.name}`).toEqual([]);
      }
      for (const [status, r] of Object.entries(op.responses ?? {}) as [string, OpenAPIV3_1.ResponseObject][]) {
        const m = r.content?.["application/json"];
        for (const [name, e] of Object.entries(m?.examples ?? {})) expect(errorsOf(m!.schema, exampleValue(e)), `${key} ${status} ${name}`).toEqual([]);
      }
    }
  });

  it("each one gets its documented answer: status, schema, headers and the example's content", async () => {
    for (const s of SCENARIOS) {
      const label = `${s.op} ${s.request} (${s.tenant})`;
      let res = await send(s);
      for (let n = 1; s.repeatUpTo && res.statusCode !== s.expect.status && n < s.repeatUpTo; n++) res = await send(s);
      expect(res.statusCode, `${label}: ${res.body.slice(0, 300)}`).toBe(s.expect.status);
      const documented = response(operation(s.op), s.expect.status)!;
      const body: unknown = res.json();
      expect(errorsOf(documented.content!["application/json"]!.schema, body), label).toEqual([]);
      for (const [name, h] of Object.entries(documented.headers ?? {})) {
        const header = doc.components!.headers![(h as OpenAPIV3_1.ReferenceObject).$ref.split("/").pop()!] as OpenAPIV3_1.HeaderObject;
        const value = res.headers[name.toLowerCase()];
        expect(value, `${label}: header ${name}`).toBeDefined();
        if ((header.schema as { type?: string }).type === "integer") expect(String(value), `${label}: header ${name}`).toMatch(/^\d+$/);
      }
      const example = exampleValue(documented.content!["application/json"]!.examples![s.expect.example]!);
      const engineFields = (v: unknown) => JSON.parse(JSON.stringify(v), (k, x: unknown) => (s.built?.engineFields.includes(k) ? "<face engine>" : x)) as unknown;
      expect(setAside(engineFields(body)), label).toEqual(setAside(engineFields(example)));
    }
  });
});

describe("the documented request schemas are what the service enforces", () => {
  let bank: Tenant;
  let customerId: string;
  let photo: string;
  const ingestSchema = () => requestMedia(operation("post /api/identity/nik/dukcapil"))!.schema;

  beforeAll(async () => {
    bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000, "identity.attempts.list": 10_000, "customers.create": 10_000 } });
    customerId = await bank.customer();
    photo = (exampleValue(requestMedia(operation("post /api/identity/nik/dukcapil"))!.examples!.verified!) as { photo: string }).photo;
  });

  /** Refused by the request's validation (400 validation_failed), as opposed to accepted and executed. */
  const refusedByValidation = (res: LightMyRequestResponse) => res.statusCode === 400 && res.json().code === "validation_failed";

  it("ingest bodies: the document's verdict and the service's agree, case by case", async () => {
    const emoji = "😀";
    const bodies: Record<string, unknown>[] = [
      { customerId, valid: true, photo },
      { customerId, valid: true },
      { customerId, valid: true, photo: null },
      { customerId, valid: true, photo: "" },
      { customerId, valid: true, photo: `data:image/jpeg;base64,${photo}` },
      { customerId, valid: true, photo: `${photo.slice(0, 40)}\n${photo.slice(40)}` },
      { customerId, valid: true, photo: photo.replace(/=+$/, "") },
      { customerId, valid: false },
      { customerId, valid: false, photo: null, raw: null, reason: null },
      { customerId, valid: false, photo },
      { customerId, valid: false, reason: "x".repeat(500) },
      { customerId, valid: false, reason: "x".repeat(501) },
      { customerId, valid: false, reason: emoji.repeat(500) },
      { customerId, valid: false, reason: emoji.repeat(501) },
      { customerId, valid: false, reason: "a\u0000b" },
      { customerId, valid: false, reason: "lone \ud800 surrogate" },
      { customerId, valid: false, reason: "" },
      { customerId, valid: false, raw: { a: [1, { b: null }] } },
      { customerId, valid: false, raw: [1] },
      { customerId, valid: false, raw: "text" },
      { customerId, valid: "true" },
      { customerId: "NOT A CUID", valid: false },
      { valid: false },
      { customerId, valid: false, nik: "3171" },
    ];
    for (const body of bodies) {
      const label = JSON.stringify(body).slice(0, 120);
      const documentedValid = errorsOf(ingestSchema(), body)!.length === 0;
      const res = await bank.post("/api/identity/nik/dukcapil", body);
      expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
      expect(!refusedByValidation(res), `${label}: documented ${documentedValid ? "valid" : "invalid"}, service ${res.statusCode} ${res.body.slice(0, 200)}`).toBe(documentedValid);
    }
  });

  it("property: for any ingest body the documented schema and the route's schema agree", () => {
    const text = fc.oneof(fc.string({ maxLength: 8 }), fc.constant("x".repeat(500)), fc.constant("😀".repeat(501)), fc.constant("a\u0000"), fc.constant("\udc00"));
    const field = {
      customerId: fc.oneof(fc.constant("ckv8x0j2k0000qzrmn8d6h1ab"), fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 })),
      valid: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
      photo: fc.oneof(fc.constant(photo), fc.constant(""), fc.constant(null), fc.base64String({ maxLength: 12 }), fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })),
      raw: fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
      reason: fc.oneof(text, fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
    };
    fc.assert(
      fc.property(fc.record(field, { requiredKeys: [] }), fc.dictionary(fc.constantFrom("nik", "extra"), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 1 }), (known, extra) => {
        const body = JSON.parse(JSON.stringify({ ...extra, ...known })) as unknown;
        const documented = errorsOf(ingestSchema(), body)!.length === 0;
        expect(DukcapilVerdictBody.safeParse(body).success, JSON.stringify(body).slice(0, 200)).toBe(documented);
      }),
      { numRuns: 1000 },
    );
  });

  it("attempts: page and limit are the documented integers, sent as query strings", async () => {
    const op = operation("get /api/identity/attempts");
    const schemaOf = (name: string) => parameters(op).find((p) => p.name === name)!.schema;
    expect(schemaOf("page")).toEqual({ type: "integer", minimum: 1, maximum: 1_000_000 });
    expect(schemaOf("limit")).toEqual({ type: "integer", minimum: 1, maximum: 100 });
    const values = ["0", "1", "2", "99", "100", "101", "1000000", "1000001", "9999999999", "-1", "1.5", "1e2", " 1", "0x10", "+1", "", "ten", "01"];
    for (const name of ["page", "limit"]) {
      for (const value of values) {
        // an integer parameter is serialised as its decimal digits; anything else is not an integer
        const asDocumented = /^-?\d+$/.test(value) ? Number(value) : value;
        const documentedValid = errorsOf(schemaOf(name), asDocumented)!.length === 0;
        const res = await ctx.app.inject({ method: "GET", url: `/api/identity/attempts?${name}=${encodeURIComponent(value)}`, headers: bank.auth });
        expect(res.statusCode, `${name}=${value}: ${res.body.slice(0, 200)}`).toBe(documentedValid ? 200 : 400);
        if (!documentedValid) expect(Object.keys(res.json().details.fieldErrors), `${name}=${value}`).toEqual([name]);
      }
    }
  });
});
