// The one place errors become HTTP replies, always in the platform's error shape:
//   {"error": "<message>", "code": "<stable code>", "requestId": "...", "details"?: {"fieldErrors": {...}}}
// 5xx replies never carry internals (no stack, SQL or paths); the full error goes to the log only.
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import fp from "fastify-plugin";
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { AppError, ServiceUnavailableError, ValidationError, listedFieldName, type FieldErrors } from "../errors.js";
import { databaseFailureOf, type DatabaseFailure } from "../db/errors.js";
import { urlHoldsKey } from "../http/url-secrets.js";
import { KeyInUrlError } from "./auth.js";
import { BASELINE_HEADERS } from "./security-headers.js";

/** The router's cap on one path parameter (Fastify's maxParamLength): longer is a 414. */
export const MAX_PARAM_LENGTH = 200;

interface ErrorBody {
  error: string;
  code: string;
  requestId: string;
  details?: { fieldErrors: FieldErrors };
  [extra: string]: unknown;
}

// A body with 100k unknown keys, or one key of a megabyte, must not come back as a multi-megabyte error:
// at most this many fields are listed, each name cut to a sane length (listedFieldName).
const MAX_FIELDS_LISTED = 20;

/** zod issues (as fastify-type-provider-zod reports them) → {field: [messages]}. */
function fieldErrorsOf(validation: { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> }[]): FieldErrors {
  // A Map, not an object literal: field names come from the caller ("constructor", "toString", …).
  const out = new Map<string, string[]>();
  let unlisted = 0;
  const add = (field: string, message: string) => {
    const name = listedFieldName(field);
    const messages = out.get(name);
    if (messages) messages.push(message);
    else if (out.size >= MAX_FIELDS_LISTED) unlisted++;
    else out.set(name, [message]);
  };
  for (const issue of validation) {
    const field = (issue.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
    if (issue.keyword === "unrecognized_keys" && Array.isArray(issue.params?.keys)) {
      for (const key of issue.params.keys as string[]) add(field ? `${field}.${key}` : key, "unrecognized field");
    } else {
      add(field || "_body", issue.message ?? "invalid");
    }
  }
  if (unlisted) out.set("_truncated", [`${unlisted} more field error(s) not listed`]);
  return Object.fromEntries(out);
}

const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: "payload_too_large", message: "request body exceeds this endpoint's size cap" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: "unsupported_media_type", message: "Content-Type must be application/json (UTF-8)" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: "bad_request", message: "Content-Length does not match the body" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "invalid_json", message: "request body is empty; expected a JSON object" },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: "invalid_json", message: "request body is not valid JSON" },
  // The router's own refusals (their messages would echo the path: ours do not).
  FST_ERR_BAD_URL: { status: 400, code: "bad_url", message: "the URL path holds a malformed percent-escape" },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: "uri_too_long", message: `a path parameter exceeds ${MAX_PARAM_LENGTH} characters` },
};

interface ErrorReply {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** The one mapping of errors to HTTP: status, body in the platform's shape, and the headers the status needs. */
function errorReply(err: FastifyError | AppError | Error, requestId: string): ErrorReply {
  const base = { requestId };
  const headers: Record<string, string> = {};
  let status: number;
  let body: ErrorBody;
  let failure: DatabaseFailure | undefined;
  if (err instanceof AppError) {
    status = err.statusCode;
    body = { error: err.message, code: err.code, ...base, ...err.extra };
    Object.assign(headers, err.headers);
    if (err instanceof ValidationError) body.details = { fieldErrors: err.fieldErrors };
  } else if (hasZodFastifySchemaValidationErrors(err)) {
    status = 400;
    const where = (err as { validationContext?: string }).validationContext ?? "request";
    body = { error: `${where} validation failed`, code: "validation_failed", ...base, details: { fieldErrors: fieldErrorsOf(err.validation) } };
  } else if ("code" in err && typeof err.code === "string" && FASTIFY_CLIENT_ERRORS[err.code]) {
    const known = FASTIFY_CLIENT_ERRORS[err.code]!;
    status = known.status;
    body = { error: known.message ?? err.message, code: known.code, ...base };
  } else if ((failure = databaseFailureOf(err))) {
    // The database's state, not a bug: retrying later can succeed. Busy (contention, a full pool, a timeout,
    // a conflict that outlasted our own retries) clears quickly; down takes longer.
    status = 503;
    const down = failure === "unavailable";
    body = { error: down ? "database unavailable; retry later" : "database busy; retry later", code: "unavailable", ...base };
    headers["retry-after"] = down ? "5" : "2";
  } else if ("statusCode" in err && typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
    // Fastify's own client errors (bad headers, bad URL encoding, …): their messages carry no internals.
    status = err.statusCode;
    body = { error: err.message, code: "bad_request", ...base };
  } else {
    status = 500;
    body = { error: "internal error", code: "internal", ...base };
  }
  return { status, body, headers };
}

function send(request: FastifyRequest, reply: FastifyReply, err: FastifyError | AppError | Error, { logError = true } = {}) {
  const { status, body, headers } = errorReply(err, request.id);
  // Our own "retry later" (the face engine out of time under load) is a state we chose to answer, not a bug:
  // a warning with its code, not an error with a stack for every refused request of a burst.
  if (err instanceof ServiceUnavailableError) request.log.warn({ status, code: body.code }, "request refused: retry later");
  else if (status >= 500) request.log.error(logError ? { err } : { code: (err as FastifyError).code }, "request failed");
  else request.log.info({ status, code: body.code }, "request refused");
  return reply.code(status).headers(headers).type("application/json; charset=utf-8").send(body);
}

export default fp(async (app) => {
  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => send(request, reply, err));

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: "route not found", code: "route_not_found", requestId: request.id }),
  );
});

/**
 * URLs the router refuses before any hook runs (a malformed percent-escape, a path parameter over
 * MAX_PARAM_LENGTH). Fastify would answer with its own body, echoing the path, and without the headers our
 * hooks set; this answers like every other error, through the mapping above, with those headers. Passed to
 * Fastify as `frameworkErrors`.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  for (const [name, value] of BASELINE_HEADERS) reply.header(name, value);
  reply.header("x-request-id", request.id);
  // The error's message names the path, which may hold anything: never logged. A key in it is refused as such.
  return send(request, reply, urlHoldsKey(request.url) ? new KeyInUrlError() : err, { logError: false });
}

/**
 * Errors of Node's HTTP parser (malformed framing, headers too large, a request cut by the header/request
 * timeout) happen before Fastify has a request, so the handler above never sees them. Fastify's default
 * answers with its own JSON shape; this answers in the platform's, with a fresh request id so the caller
 * can quote it, and closes the connection (the stream cannot be trusted after a framing error).
 * Passed to Fastify as `clientErrorHandler`.
 */
export function clientErrorHandler(log: FastifyBaseLogger, err: Error & { code?: string }, socket: Socket, newRequestId: () => string): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  let status = 400;
  let body: ErrorBody = { error: "malformed HTTP request", code: "bad_request", requestId: newRequestId() };
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    status = 408;
    body = { ...body, error: "request not received in time", code: "request_timeout" };
  } else if (err.code === "HPE_HEADER_OVERFLOW") {
    status = 431;
    body = { ...body, error: "request headers exceed the size limit", code: "headers_too_large" };
  }
  log.info({ status, code: body.code, parserError: err.code, requestId: body.requestId }, "request refused by the HTTP parser");
  if (socket.writable) {
    const json = JSON.stringify(body);
    const baseline = BASELINE_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join("");
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nX-Request-Id: ${body.requestId}\r\n${baseline}Connection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}
