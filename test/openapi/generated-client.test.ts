// A client nobody hand-wrote: TypeScript types generated from openapi.yaml (openapi-typescript), a flow written
// against them and typechecked, then run with openapi-fetch against the real service listening on a port.
// Every response body is also validated against the spec's own schema, so the spec and the service cannot
// disagree without this test failing.
import { createRequire } from "node:module";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import openapiTS, { astToString } from "openapi-typescript";
import type { OpenAPIV3_1 } from "openapi-types";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { startFaceTemplateEngine, type FaceTemplateEngine } from "../../src/face/template-engine.js";
import { altered, portrait } from "../face/photos.js";
import { b64 } from "../helpers/images.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SPEC = path.join(ROOT, "openapi.yaml");
const require = createRequire(import.meta.url);

/** The whole flow, as an integrator would write it against the generated types. */
const FLOW = `
import createClient from "openapi-fetch";
import type { paths } from "./api.js";

type Tier = "none" | "basic" | "standard" | "premium";

export async function flow(baseUrl: string, apiKey: string, photo: string, selfie: string) {
  const client = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${apiKey}\` } });

  const created = await client.POST("/api/customers", {
    body: { externalRef: "client-0001" },
    params: { header: { "idempotency-key": "client-flow-customer-1" } },
  });
  if (!created.data) throw new Error(\`create customer: \${created.response.status}\`);
  const customerId: string = created.data.data.id;
  const startLevel: Tier = created.data.data.kycLevel;

  const verified = await client.POST("/api/identity/nik/dukcapil", {
    body: { customerId, valid: true, photo, raw: { nik: "3171000000000000", result: "MATCH" } },
  });
  if (!verified.data) throw new Error(\`verified verdict: \${verified.response.status}\`);
  const verification = verified.data.verification;
  const score: number | undefined = verification.status === "verified" ? verification.score : undefined;
  const enrolledFrom: "dukcapil" | undefined = verified.data.enrolment?.source;

  const matched = await client.POST("/api/identity/face/match", {
    body: { customerId, photo: selfie },
    params: { header: { "idempotency-key": "client-flow-match-1" } },
  });
  if (!matched.data) throw new Error(\`face match: \${matched.response.status}\`);
  const matchStatus: "verified" | "failed" = matched.data.verification.status;
  const referenceSource: string = matched.data.reference.source;

  const declined = await client.POST("/api/identity/nik/dukcapil", {
    body: { customerId, valid: false, reason: "NIK not found in central registry" },
  });
  if (!declined.data) throw new Error(\`declined verdict: \${declined.response.status}\`);

  const kyc = await client.GET("/api/identity/kyc/{customerId}", { params: { path: { customerId } } });
  if (!kyc.data) throw new Error(\`kyc: \${kyc.response.status}\`);
  const level: Tier = kyc.data.customer.kycLevel;
  const reasons: (string | null)[] = kyc.data.verifications.map((v) => v.reason);

  const attempts = await client.GET("/api/identity/attempts", { params: { query: { method: "nik_dukcapil", customerId, limit: 10 } } });
  if (!attempts.data) throw new Error(\`attempts: \${attempts.response.status}\`);
  const methods: string[] = attempts.data.data.map((a) => a.method);

  const missing = await client.GET("/api/identity/kyc/{customerId}", { params: { path: { customerId: "cmissing00000000000000000" } } });
  const errorCode: string | undefined = missing.error?.code;

  return {
    customerId, startLevel, score, enrolledFrom, matchStatus, referenceSource, level, reasons, methods, errorCode,
    declined: declined.data,
    total: attempts.data.total,
    calls: [
      { path: "/api/customers", method: "post", res: created.response, body: created.data },
      { path: "/api/identity/nik/dukcapil", method: "post", res: verified.response, body: verified.data },
      { path: "/api/identity/face/match", method: "post", res: matched.response, body: matched.data },
      { path: "/api/identity/nik/dukcapil", method: "post", res: declined.response, body: declined.data },
      { path: "/api/identity/kyc/{customerId}", method: "get", res: kyc.response, body: kyc.data },
      { path: "/api/identity/attempts", method: "get", res: attempts.response, body: attempts.data },
      { path: "/api/identity/kyc/{customerId}", method: "get", res: missing.response, body: missing.error },
    ],
  };
}
`;

/** Must NOT typecheck: proves the typecheck below is not vacuous. */
const WRONG = `
import createClient from "openapi-fetch";
import type { paths } from "./api.js";
export async function wrong() {
  const client = createClient<paths>({ baseUrl: "http://x" });
  const r = await client.POST("/api/identity/nik/dukcapil", { body: { customerId: "c1", valid: "yes" } });
  return r.data?.verification.tier;
}
`;

let engine: FaceTemplateEngine;
let ctx: TestContext;
let bank: Tenant;
let dir: string;
let baseUrl: string;

beforeAll(async () => {
  // The real engine: the flow enrols a portrait and matches another photo of the same person.
  engine = startFaceTemplateEngine({ workers: 1, timeoutMs: 20_000 });
  ctx = await createTestContext({ face: engine });
  bank = await ctx.tenant();
  await ctx.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = ctx.app.server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${port}`;
  dir = await mkdtemp(path.join(os.tmpdir(), "qe-client-"));
});
afterAll(async () => {
  await ctx.close();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

function typecheck(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2023,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
    // The temp dir has no node_modules: resolve the client library from the project.
    baseUrl: dir,
    paths: { "openapi-fetch": [path.join(ROOT, "node_modules/openapi-fetch")] },
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? path.basename(d.file.fileName) : ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
}

describe("a client generated from openapi.yaml", () => {
  it("typechecks the whole flow against the generated types, and refuses code the spec does not allow", async () => {
    const types = astToString(await openapiTS(pathToFileURL(SPEC)));
    expect(types).toContain('"/api/identity/nik/dukcapil"');
    await writeFile(path.join(dir, "api.d.ts"), types);
    await writeFile(path.join(dir, "flow.ts"), FLOW);
    await writeFile(path.join(dir, "wrong.ts"), WRONG);
    expect(typecheck([path.join(dir, "flow.ts")])).toEqual([]);
    const wrong = typecheck([path.join(dir, "wrong.ts")]).join("\n");
    expect(wrong).toMatch(/'string' is not assignable to type 'boolean'/);
    expect(wrong).toMatch(/Property 'tier' does not exist/);
  }, 60_000);

  it("runs the flow with openapi-fetch against the listening service; every response matches the spec", async () => {
    // The typechecked source, transpiled as is; openapi-fetch resolved from the project.
    const js = ts
      .transpileModule(await readFile(path.join(dir, "flow.ts"), "utf8"), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: false },
      })
      .outputText.replace('from "openapi-fetch"', `from ${JSON.stringify(pathToFileURL(require.resolve("openapi-fetch")).href)}`);
    await writeFile(path.join(dir, "flow.mjs"), js);
    const { flow } = (await import(pathToFileURL(path.join(dir, "flow.mjs")).href)) as {
      flow: (baseUrl: string, key: string, photo: string, selfie: string) => Promise<Record<string, unknown> & { calls: { path: string; method: string; res: Response; body: unknown }[] }>;
    };
    const alice = await portrait("alice");
    await engine.ready;
    const result = await flow(baseUrl, bank.key, b64(alice), b64(await altered(alice)));

    expect(result).toMatchObject({
      startLevel: "none",
      score: 100,
      enrolledFrom: "dukcapil",
      matchStatus: "verified",
      referenceSource: "dukcapil",
      level: "premium",
      methods: ["nik_dukcapil", "nik_dukcapil"],
      total: 2,
      errorCode: "not_found",
      declined: { verification: { status: "failed" }, enrolment: null },
    });
    expect(result.reasons).toContain("NIK not found in central registry");
    expect(result.calls.map((c) => c.res.status)).toEqual([201, 201, 201, 201, 200, 200, 404]);

    // Each body against the schema the spec gives for that operation and status.
    const spec = parse(await readFile(SPEC, "utf8")) as OpenAPIV3_1.Document;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addFormat("date-time", (s: string) => !Number.isNaN(Date.parse(s)));
    ajv.addSchema({ $id: "spec", components: spec.components }, "spec");
    for (const call of result.calls) {
      const op = (spec.paths![call.path] as Record<string, OpenAPIV3_1.OperationObject>)[call.method]!;
      const response = op.responses![String(call.res.status)] as OpenAPIV3_1.ResponseObject | undefined;
      expect(response, `${call.method} ${call.path} ${call.res.status} is not in the spec`).toBeDefined();
      const schema = JSON.parse(JSON.stringify(response!.content!["application/json"]!.schema).replaceAll('"#/components/', '"spec#/components/'));
      const validate = ajv.compile(schema);
      expect(validate(call.body) ? [] : validate.errors, `${call.method} ${call.path} ${call.res.status}`).toEqual([]);
      for (const name of Object.keys(response!.headers ?? {})) {
        if (name === "Retry-After") continue; // only on 429/503
        expect(call.res.headers.get(name), `${name} on ${call.method} ${call.path} ${call.res.status}`).not.toBeNull();
      }
    }
  });
});
