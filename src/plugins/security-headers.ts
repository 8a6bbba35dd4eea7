// Response headers for a JSON API, and CORS only where an operator asked for it.
//
// Helmet's defaults, tightened for an API that never serves a page: a CSP of `default-src 'none'` (a response
// rendered by mistake as HTML runs nothing and cannot be framed), X-Frame-Options DENY, no referrer. HSTS is
// sent always: browsers ignore it over plain HTTP (RFC 6797 §8.1) and honour it behind TLS.
//
// CORS is off unless CORS_ORIGINS lists origins: bank backends call this API server to server, and a browser
// on any other origin must not be able to read its responses. When configured, only those exact origins, no
// credentials (keys travel in the Authorization header, never in cookies).
import type { IncomingMessage, ServerResponse } from "node:http";
import fp from "fastify-plugin";
import cors from "@fastify/cors";
import fastifyHelmet from "@fastify/helmet";
import helmet, { type HelmetOptions } from "helmet";

const HELMET_OPTIONS = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  xFrameOptions: { action: "deny" },
  referrerPolicy: { policy: "no-referrer" },
  hsts: { maxAge: 31_536_000, includeSubDomains: true },
} satisfies HelmetOptions;

/**
 * The headers every response carries, as [name, value] pairs: helmet's (with the options above) and ours. For
 * the answers made before any hook can run (a URL the router refuses, a request Node's HTTP parser refuses),
 * which would otherwise go out without them. Computed once, by running helmet itself on a recorder.
 */
export const BASELINE_HEADERS: readonly (readonly [string, string])[] = (() => {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => headers.set(name.toLowerCase(), String(value)),
    removeHeader: () => {},
  };
  helmet(HELMET_OPTIONS)({} as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  headers.set("cache-control", "no-store").set("x-content-type-options", "nosniff");
  return [...headers];
})();

export default fp<{ corsOrigins?: readonly string[] }>(async (app, { corsOrigins }) => {
  await app.register(fastifyHelmet, { global: true, ...HELMET_OPTIONS });

  if (corsOrigins && corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...corsOrigins],
      methods: ["GET", "POST"],
      allowedHeaders: ["authorization", "content-type", "idempotency-key", "x-request-id"],
      exposedHeaders: ["x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after", "idempotent-replayed"],
      credentials: false,
      maxAge: 600,
    });
  }
});
