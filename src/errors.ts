// Typed errors. Services throw these; the error handler (plugins/error-handler.ts) is the one place that
// turns them, and everything else, into the platform's error shape.

export type FieldErrors = Record<string, string[]>;

/** Field names come from the caller: one of a megabyte must not make a megabyte error, so it is cut. */
export const MAX_FIELD_NAME = 100;
export const listedFieldName = (field: string) => (field.length > MAX_FIELD_NAME ? `${field.slice(0, MAX_FIELD_NAME)}…` : field);

export class AppError extends Error {
  /** Response headers this error's reply needs (e.g. WWW-Authenticate on a 401). */
  headers: Record<string, string> = {};
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class ValidationError extends AppError {
  constructor(message: string, readonly fieldErrors: FieldErrors = {}) {
    super(400, message, "validation_failed");
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = "bad_request") {
    super(400, message, code);
  }
}

export class UnauthorizedError extends AppError {
  /** `tokenSent`: a Bearer token came and was not a valid key (RFC 6750 §3.1 `invalid_token`); else none came. */
  constructor({ tokenSent = false }: { tokenSent?: boolean } = {}) {
    super(401, "missing or invalid Bearer", "unauthorized");
    this.headers["www-authenticate"] = tokenSent ? 'Bearer error="invalid_token"' : "Bearer";
  }
}

export class MissingScopeError extends AppError {
  constructor(scope: string) {
    super(403, `missing scope: ${scope}`, "missing_scope");
  }
}

export class CapabilityDisabledError extends AppError {
  constructor(capability: string) {
    super(403, `org capability disabled: ${capability}`, "capability_disabled");
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, `${what} not found`, "not_found");
  }
}

export class ConflictError extends AppError {
  constructor(message: string, code = "conflict") {
    super(409, message, code);
  }
}

/** The content existed and was erased (README "Erasure and retention"). */
export class GoneError extends AppError {
  constructor(message: string, code = "gone") {
    super(410, message, code);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message: string) {
    super(413, message, "payload_too_large");
  }
}

export class UnprocessableError extends AppError {
  constructor(message: string, code = "unprocessable") {
    super(422, message, code);
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(
    message = "service temporarily unavailable; retry later",
    code = "unavailable",
    /** Sent as Retry-After (seconds). */
    retryAfterSeconds = 5,
  ) {
    super(503, message, code);
    this.headers["retry-after"] = String(retryAfterSeconds);
  }
}
