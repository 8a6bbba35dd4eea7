// API-key authentication and the per-route permission hooks (scope, org capability).
// Routes list their hooks explicitly, in the platform's order:
//   authenticate (401) → rate limit (429) → requireScope (403) → requireCapability (403)
import fp from "fastify-plugin";
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import { BadRequestError, CapabilityDisabledError, MissingScopeError, UnauthorizedError } from "../errors.js";
import { urlHoldsKey } from "../http/url-secrets.js";
import type { ApiKeysService } from "../modules/api-keys/api-keys-service.js";
import type { AuthContext } from "../modules/api-keys/api-keys-types.js";
import type { Capability } from "../modules/orgs/orgs-types.js";

declare module "fastify" {
  interface FastifyRequest {
    auth?: AuthContext;
  }
  interface FastifyInstance {
    authenticate: onRequestHookHandler;
  }
}

const KEY_LIKE_PARAM = /^(api[_-]?key|apikey|key|access[_-]?token|token|auth|authorization|bearer|secret)$/i;

/** True when the query string carries something that looks like a credential. */
function queryHoldsKey(query: unknown): boolean {
  if (!query || typeof query !== "object") return false;
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    if (KEY_LIKE_PARAM.test(name) || name.includes("qe_sk_")) return true; // `?qe_sk_…` is a key as a bare name
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === "string" && v.includes("qe_sk_"))) return true;
  }
  return false;
}

export class KeyInUrlError extends BadRequestError {
  constructor() {
    super("API keys must be sent in the Authorization header, never in the URL", "key_in_query");
  }
}

export function authContext(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new UnauthorizedError();
  return request.auth;
}

export function requireScope(scope: string): onRequestHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!authContext(request).scopes.has(scope)) throw new MissingScopeError(scope);
  };
}

export function requireCapability(capability: Capability): onRequestHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!authContext(request).capabilities[capability]) throw new CapabilityDisabledError(capability);
  };
}

export default fp<{ apiKeys: ApiKeysService }>(async (app, { apiKeys }) => {
  app.decorateRequest("auth", undefined);

  // Keys in URLs end up in proxy logs and browser histories: refuse them on every route (unknown ones too),
  // before anything else, wherever in the URL they are.
  app.addHook("onRequest", async (request) => {
    if (queryHoldsKey(request.query) || urlHoldsKey(request.url)) throw new KeyInUrlError();
  });

  app.decorate("authenticate", async (request: FastifyRequest) => {
    request.auth = await apiKeys.authenticate(request.headers.authorization);
  });
});
