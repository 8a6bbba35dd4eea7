// Response headers for a JSON API, and CORS only where an operator asked for it.
//
// Helmet's defaults, tightened for an API that never serves a page: a CSP of `default-src 'none'` (a response
// rendered by mistake as HTML runs nothing and cannot be framed), X-Frame-Options DENY, no referrer. HSTS is
// sent always: browsers ignore it over plain HTTP (RFC 6797 §8.1) and honour it behind TLS.
//
// CORS is off unless CORS_ORIGINS lists origins: bank backends call this API server to server, and a browser
// on any other origin must not be able to read its responses. When configured, only those exact origins, no
// credentials (keys travel in the Authorization header, never in cookies).
import fp from "fastify-plugin";
import cors from "@fastify/cors";
import helmet from "@fastify/helmet";

export default fp<{ corsOrigins?: readonly string[] }>(async (app, { corsOrigins }) => {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: "deny" },
    referrerPolicy: { policy: "no-referrer" },
    hsts: { maxAge: 31_536_000, includeSubDomains: true },
  });

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
