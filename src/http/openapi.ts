// The OpenAPI 3.1 contract, generated from the routes' own zod schemas (@fastify/swagger with
// fastify-type-provider-zod's transforms). Routes declare their error statuses with `errorResponses(...)`;
// what no route schema can say (the security scheme, response headers, status descriptions, the spec page's
// examples) is added here, once, in `decorate`. `npm run openapi` writes openapi.yaml; a test keeps it current.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import type { OpenAPIV3_1 } from "openapi-types";
import { stringify } from "yaml";
import { z } from "zod";
import { FACE_TEMPLATE_MODEL_ID } from "../face/pipeline.js";
import { DEFAULT_FACE_MATCH_THRESHOLD } from "../face/match-policy.js";

/** The platform's error shape (plugins/error-handler.ts). Loose: some errors carry more fields. */
export const ErrorResponse = z
  .looseObject({
    error: z.string().describe("human-readable message"),
    code: z.string().describe("stable machine code, e.g. validation_failed, missing_scope, rate_limited"),
    requestId: z.string().describe("the X-Request-Id of the request that produced this error (an idempotent replay carries the first request's)"),
    details: z
      .object({ fieldErrors: z.record(z.string(), z.array(z.string())) })
      .optional()
      .describe("validation failures only: messages per field"),
    bucket: z.string().optional().describe("429 only: the rate-limit bucket"),
    limit: z.number().int().optional().describe("429 only: requests per minute allowed in the bucket"),
  })
  .meta({ id: "Error" });

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 414 | 415 | 422 | 429 | 500 | 503;

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  400: "Validation failed (`details.fieldErrors`; a member name given twice in one object is one), malformed JSON (more than one byte order mark included), a malformed percent-escape in the path, or an API key anywhere in the URL",
  401: "Missing or invalid Bearer (unknown, revoked or expired key)",
  403: "The key lacks the scope, or the org lacks the capability, this endpoint needs",
  404: "Does not exist, or is not in your org (the two are indistinguishable)",
  409: "Conflicts with current state (a duplicate, or an Idempotency-Key reused or still in progress)",
  413: "Body or file over this endpoint's documented cap",
  414: "A path parameter over 200 characters",
  415: "Content-Type other than application/json, a body that is not valid UTF-8, or a Content-Encoding",
  422: "Well-formed but refused by a business rule",
  429: "Rate limit exceeded for this key and bucket (a sliding 60 s window); see Retry-After",
  500: "Internal error (details only in the service log, under this request id)",
  503: "Database or Redis degraded; retry later (see Retry-After)",
};

/** `response` entries for the error statuses a route can return, all in the platform's error shape. */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]): Record<S, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse])) as Record<S, typeof ErrorResponse>;
}

const header = (description: string, schema: { type: "string" | "integer"; example: unknown }): OpenAPIV3_1.HeaderObject =>
  ({ description, schema }) as OpenAPIV3_1.HeaderObject;
const HEADERS: Record<string, OpenAPIV3_1.HeaderObject> = {
  "X-Request-Id": header("Id of this request, also in every log line of it; a sane X-Request-Id sent by the caller is kept", {
    type: "string",
    example: "req_01JD0Q3K5V7W9X1Y3Z5A7B9C1D",
  }),
  "X-RateLimit-Limit": header("Requests this key may make in this endpoint's bucket in any 60 s (a sliding window, not per calendar minute)", {
    type: "integer",
    example: 30,
  }),
  "X-RateLimit-Remaining": header("Requests this key may still make now in the bucket", { type: "integer", example: 29 }),
  "X-RateLimit-Reset": header("When the oldest request counted leaves the 60 s window, i.e. when Remaining next grows (Unix time, seconds)", {
    type: "integer",
    example: 1764115260,
  }),
  "Retry-After": header("Seconds to wait before retrying (on a 429: until the next request is admitted)", { type: "integer", example: 42 }),
  "WWW-Authenticate": header('RFC 6750: `Bearer` when no Bearer token was sent, `Bearer error="invalid_token"` when the one sent is not a valid key', {
    type: "string",
    example: 'Bearer error="invalid_token"',
  }),
  "Content-Disposition": header("A download: attachment, with a file name", {
    type: "string",
    example: 'attachment; filename="attempts-org_01JD0Q3K5V7W9X1Y3Z5A7B9C1D-20261125T093000Z.csv"',
  }),
};
/** Operations whose 200 is a file download. */
const DOWNLOADS = new Set(["get /api/identity/attempts/export"]);
const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });

const CUSTOMER_ID = "ckv8x0j2k0000qzrmn8d6h1ab";
const NOW = "2026-11-25T09:30:00.000Z";
/**
 * A real JPEG the service accepts (64x64 px, one flat colour, no face): made once with
 * `sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 180, g: 140, b: 110 } } }).jpeg()`.
 */
const EXAMPLE_PHOTO =
  "/9j/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCABAAEADASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAX/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAAAAX/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwC4AjLIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD//2Q==";

/**
 * Request, parameter and response examples per operation; the verdict ones are the product spec page's. They
 * tell one story a test replays against the service (test/openapi/examples.test.ts): customer CUSTOMER_ID is
 * declined, then verified; its KYC detail and its org's failed attempts are then exactly the 200 examples.
 */
export const EXAMPLES: Record<
  string,
  { request?: Record<string, unknown>; parameters?: Record<string, unknown>; responses?: Record<number, Record<string, unknown>> }
> = {
  "post /api/customers": {
    request: { withRef: { externalRef: "cust-0001" } },
    responses: { 201: { created: { data: { id: CUSTOMER_ID, externalRef: "cust-0001", kycLevel: "none", createdAt: NOW } } } },
  },
  "post /api/identity/nik/dukcapil": {
    request: {
      verified: { customerId: CUSTOMER_ID, valid: true, photo: EXAMPLE_PHOTO, raw: { nik: "3171…", result: "MATCH" } },
      declined: { customerId: CUSTOMER_ID, valid: false, reason: "NIK not found in central registry" },
    },
    responses: {
      201: {
        verified: {
          verification: { id: "ver_01HXY7Q8Z9A0B1C2D3E4F5G6H7", status: "verified", score: 100 },
          enrolment: { id: "fe_01HXY7Q8Z9A0B1C2D3E4F5G6H8", source: "dukcapil", fallbackStub: false },
        },
        declined: { verification: { id: "ver_01HXY7Q8Z9A0B1C2D3E4F5G6H9", status: "failed" }, enrolment: null },
      },
      403: { capabilityDisabled: { error: "org capability disabled: dukcapilEnabled", code: "capability_disabled", requestId: "req_01JD0Q3K5V7W9X1Y3Z5A7B9C1D" } },
      429: {
        rateLimited: { error: "rate limit exceeded", code: "rate_limited", requestId: "req_01JD0Q3K5V7W9X1Y3Z5A7B9C1D", bucket: "identity.nik.dukcapil", limit: 30 },
      },
    },
  },
  "post /api/identity/face/match": {
    // No request example: a selfie that passes the photo rules and holds a face is far too large to show.
    responses: {
      201: {
        verified: {
          verification: { id: "ver_01HXY7Q8Z9A0B1C2D3E4F5G6HC", status: "verified", score: 87 },
          reference: { id: "fe_01HXY7Q8Z9A0B1C2D3E4F5G6H8", source: "dukcapil" },
          threshold: DEFAULT_FACE_MATCH_THRESHOLD,
          model: FACE_TEMPLATE_MODEL_ID,
        },
      },
      409: { noReference: { error: "the customer has no current face reference that yields a template", code: "no_face_reference", requestId: "req_01JD0Q3K5V7W9X1Y3Z5A7B9C1D" } },
      422: { noFace: { error: "no face found in the photo", code: "no_face", requestId: "req_01JD0Q3K5V7W9X1Y3Z5A7B9C1D" } },
      503: { engineDown: { error: "face engine unavailable (engine_off); retry later", code: "face_engine_unavailable", requestId: "req_01JD0Q3K5V7W9X1Y3Z5A7B9C1D" } },
    },
  },
  "get /api/identity/kyc/{customerId}": {
    parameters: { customerId: CUSTOMER_ID },
    responses: {
      200: {
        standard: {
          customer: { id: CUSTOMER_ID, kycLevel: "standard", kycLastVerifiedAt: NOW },
          eligible: "standard",
          verifications: [
            { id: "ver_01HXY7Q8Z9A0B1C2D3E4F5G6H7", method: "nik_dukcapil", status: "verified", score: 100, reason: null, createdAt: NOW },
            { id: "ver_01HXY7Q8Z9A0B1C2D3E4F5G6H9", method: "nik_dukcapil", status: "failed", score: null, reason: "NIK not found in central registry", createdAt: "2026-11-24T08:00:00.000Z" },
          ],
          history: [{ id: "kte_01HXY7Q8Z9A0B1C2D3E4F5G6HA", fromTier: "none", toTier: "standard", reason: "nik_dukcapil verified: tier standard", createdAt: NOW }],
          references: [
            {
              id: "fe_01HXY7Q8Z9A0B1C2D3E4F5G6H8",
              source: "dukcapil",
              fallbackStub: false,
              fallbackCause: null,
              model: FACE_TEMPLATE_MODEL_ID,
              createdAt: NOW,
              supersededAt: null,
              erasedAt: null,
            },
          ],
        },
        erased: {
          customer: { id: CUSTOMER_ID, kycLevel: "standard", kycLastVerifiedAt: "2026-11-24T08:00:00.000Z" },
          eligible: "standard",
          verifications: [
            { id: "ver_01HXY7Q8Z9A0B1C2D3E4F5G6H7", method: "nik_dukcapil", status: "verified", score: 100, reason: null, createdAt: "2026-11-24T08:00:00.000Z" },
          ],
          history: [{ id: "kte_01HXY7Q8Z9A0B1C2D3E4F5G6HA", fromTier: "none", toTier: "standard", reason: "nik_dukcapil verified: tier standard", createdAt: "2026-11-24T08:00:00.000Z" }],
          references: [
            {
              id: "fe_01HXY7Q8Z9A0B1C2D3E4F5G6H8",
              source: "dukcapil",
              fallbackStub: false,
              fallbackCause: null,
              model: FACE_TEMPLATE_MODEL_ID,
              createdAt: "2026-11-24T08:00:00.000Z",
              supersededAt: null,
              erasedAt: NOW,
            },
          ],
        },
      },
    },
  },
  "get /api/identity/attempts": {
    parameters: { method: "nik_dukcapil", status: "failed", page: 1, limit: 20 },
    responses: {
      200: {
        page: {
          data: [
            {
              id: "ver_01HXY7Q8Z9A0B1C2D3E4F5G6H9",
              customerId: CUSTOMER_ID,
              method: "nik_dukcapil",
              status: "failed",
              score: null,
              reason: "NIK not found in central registry",
              createdAt: NOW,
              apiKey: { id: "key_01HXY7Q8Z9A0B1C2D3E4F5G6HB", prefix: "qe_sk_live_AB12" },
            },
          ],
          total: 1,
          page: 1,
          limit: 20,
          meta: { pages: 1, totalExact: true, nextCursor: null },
        },
      },
    },
  },
};

/** The contract's version (not the package's): bump on every change to the API surface. */
export const API_VERSION = "1.0.0";

type Doc = OpenAPIV3_1.Document;

/** Stable names for generated clients' methods. */
const OPERATION_IDS: Record<string, string> = {
  "get /healthz": "getHealth",
  "get /readyz": "getReadiness",
  "post /api/customers": "createCustomer",
  "post /api/identity/nik/dukcapil": "ingestDukcapilVerdict",
  "post /api/identity/face/match": "matchFace",
  "get /api/identity/kyc/{customerId}": "getKycDetail",
  "get /api/identity/attempts": "listAttempts",
  "get /api/identity/attempts/export": "exportAttempts",
};
type Operation = OpenAPIV3_1.OperationObject;

/** Operations whose body may be left out entirely (no body and no Content-Type is the same as `{}`). */
const OPTIONAL_BODY = new Set(["post /api/customers"]);

/** Adds what route schemas cannot carry: security, headers, status descriptions, examples. */
function decorate(doc: Doc): Doc {
  doc.components ??= {};
  doc.components.securitySchemes = {
    bearerAuth: {
      type: "http",
      scheme: "bearer",
      bearerFormat: "qe_sk_<sandbox|live>_<32 base32 characters>",
      description: "An org's API key, shown once at creation. Never send it in the URL (400).",
    },
  };
  doc.components.headers = HEADERS;
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ["get", "post", "put", "patch", "delete"] as const) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      op.operationId ??= OPERATION_IDS[`${method} ${path}`] ?? `${method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string = "") => c.toUpperCase())}`;
      const api = path.startsWith("/api/");
      if (api) op.security = [{ bearerAuth: [] }];
      else op.security = [];
      const body = op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined;
      if (body && OPTIONAL_BODY.has(`${method} ${path}`)) {
        body.required = false;
        body.description = "Optional: a request with no body (and no Content-Type) is the same as `{}`.";
      }
      const examples = EXAMPLES[`${method} ${path}`];
      for (const parameter of (op.parameters ?? []) as OpenAPIV3_1.ParameterObject[]) {
        const example = examples?.parameters?.[parameter.name];
        if (example !== undefined && parameter.in !== "header") parameter.example = example;
      }
      if (examples?.request) {
        const media = (op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined)?.content?.["application/json"];
        if (media) media.examples = Object.fromEntries(Object.entries(examples.request).map(([k, value]) => [k, { value }]));
      }
      for (const [status, response] of Object.entries(op.responses ?? {}) as [string, OpenAPIV3_1.ResponseObject][]) {
        const code = Number(status);
        response.description = STATUS_TEXT[code] ?? response.description;
        const headers: Record<string, OpenAPIV3_1.ReferenceObject> = { "X-Request-Id": ref("X-Request-Id") };
        // Limits apply once the key is known: every response of an API route but 401 (and a key in the URL).
        if (api && code !== 401) {
          for (const h of ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]) headers[h] = ref(h);
        }
        if (code === 429 || code === 503) headers["Retry-After"] = ref("Retry-After");
        if (code === 200 && DOWNLOADS.has(`${method} ${path}`)) headers["Content-Disposition"] = ref("Content-Disposition");
        if (code === 401) headers["WWW-Authenticate"] = ref("WWW-Authenticate");
        response.headers = headers;
        const responseExamples = examples?.responses?.[code];
        const media = response.content?.["application/json"];
        if (responseExamples && media) media.examples = Object.fromEntries(Object.entries(responseExamples).map(([k, value]) => [k, { value }]));
      }
    }
  }
  // The zod registry yields an input and an output variant of each named schema; keep only those referenced.
  const text = JSON.stringify(doc.paths);
  for (const name of Object.keys(doc.components.schemas ?? {})) {
    if (!text.includes(`"#/components/schemas/${name}"`)) delete doc.components.schemas![name];
  }
  return doc;
}

const DOC_ROUTES = ["/openapi.json", "/docs", "/docs/*", "/docs/json", "/docs/yaml", "/docs/static/*", "/docs/initOAuth", "/docs/uiConfig", "/docs/"];

/** Registers the generator (before the routes, which it collects), /openapi.json and the /docs UI. */
export const openapiPlugin = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Identity Platform: Dukcapil verdict ingest",
        version: API_VERSION,
        description:
          "Banks post the Dukcapil (Indonesian civil registry) verdict and official photo for a customer; the service " +
          "records the verification, enrols the photo as the customer's reference face and raises the KYC tier. " +
          "Errors share one shape (`Error`); every response carries `X-Request-Id`; API routes carry rate-limit headers " +
          "once the key is known (not on a 401, nor on the 400 for a key sent in the URL). Rate limits are per key and " +
          "bucket over a sliding 60 s window: no 60 s span admits more than the limit. Every authenticated request counts, " +
          "refusals (400, 403, 404, 413, 415, …) included; a 429 does not.",
        license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
      },
      servers: [{ url: "http://127.0.0.1:3000", description: "local (npm start)" }],
      tags: [
        { name: "customers", description: "The bank's customers" },
        { name: "verifications", description: "Verdicts and verification attempts" },
        { name: "kyc", description: "KYC tiers" },
        { name: "health", description: "Liveness and readiness probes" },
      ],
    },
    transform: (input) => {
      if (DOC_ROUTES.includes(input.url)) return { schema: { ...input.schema, hide: true }, url: input.url };
      return jsonSchemaTransform(input);
    },
    transformObject: (input) => decorate(jsonSchemaTransformObject(input) as Doc),
  });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    // The API's own CSP forbids everything; the docs pages need their scripts and styles (no upgrade to https:
    // the service may be reached over plain HTTP on a private network).
    staticCSP: true,
    transformStaticCSP: (h) => h.replace(/\s*upgrade-insecure-requests;?/, ""),
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
});

/** The document as committed in openapi.yaml (stable key order as generated; a trailing newline). */
export function openapiYaml(app: FastifyInstance): string {
  return stringify(app.openapiDocument(), { lineWidth: 0, aliasDuplicateObjects: false });
}
