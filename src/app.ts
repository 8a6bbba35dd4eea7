// Builds the Fastify instance (no listen): external plugins, then app plugins, then routes.
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { ulid } from "ulid";
import type { PrismaClient } from "./db/types.js";
import { trackInFlight, type InFlight } from "./http/in-flight.js";
import { holdsApiKey } from "./http/url-secrets.js";
import { openapiPlugin } from "./http/openapi.js";
import { loggerOptions } from "./logging.js";
import { createMetrics, type Metrics } from "./metrics.js";
import authPlugin from "./plugins/auth.js";
import errorHandler, { clientErrorHandler, frameworkErrorHandler, MAX_PARAM_LENGTH } from "./plugins/error-handler.js";
import idempotencyPlugin from "./plugins/idempotency.js";
import jsonBody from "./plugins/json-body.js";
import metricsPlugin from "./plugins/metrics.js";
import rateLimitPlugin from "./plugins/rate-limit.js";
import securityHeaders from "./plugins/security-headers.js";
import { attemptsRoutes } from "./modules/attempts/attempts-routes.js";
import consolePlugin from "./modules/console/console-plugin.js";
import { customersRoutes } from "./modules/customers/customers-routes.js";
import { dukcapilRoutes } from "./modules/dukcapil/dukcapil-routes.js";
import { faceMatchRoutes } from "./modules/face-match/face-match-routes.js";
import { healthRoutes } from "./modules/health-routes.js";
import { kycRoutes } from "./modules/kyc/kyc-routes.js";
import type { Services } from "./services.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The API scope's OpenAPI document (only the API's routes are in it). */
    openapiDocument(): ReturnType<FastifyInstance["swagger"]>;
    /** Requests whose work still runs (shutdown waits for them after closing the listener). */
    inFlight: InFlight;
  }
}

export interface AppOptions {
  prisma: PrismaClient;
  services: Services;
  redis?: Redis;
  logLevel?: string;
  /** Where log lines go (default stdout); tests read them. */
  logStream?: { write(line: string): void };
  trustProxy?: boolean;
  /** The rate limiter's clock (ms since the epoch); tests move it by hand. */
  rateLimitClock?: () => number;
  /** Browser origins allowed by CORS (CORS_ORIGINS); none: CORS off. */
  corsOrigins?: readonly string[];
  /** The server passes its registry (scraped on the metrics listener); tests get a fresh one. */
  metrics?: Metrics;
  /** Console cookies with `Secure` (NODE_ENV=production, behind TLS). */
  secureCookies?: boolean;
}

/** Default cap for request bodies; the ingest route raises its own (INGEST_LIMITS.bodyBytes). */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;
const newRequestId = () => `req_${ulid()}`;

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    logger: { ...loggerOptions(opts.logLevel ?? "info"), ...(opts.logStream ? { stream: opts.logStream } : {}) },
    // A caller's own X-Request-Id is kept when it is sane, so both sides can trace one request. genReqId reads
    // the header itself: with requestIdHeader set, Fastify would take any incoming value verbatim. One that holds
    // an API key (a client that put the wrong header value there) is replaced: the id is echoed, logged with
    // every line of the request and stored with its verification.
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: "requestId" }),
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) && !holdsApiKey(given) ? given : newRequestId();
    },
    // Called only once the server listens, when `app` exists.
    clientErrorHandler: (err, socket) => clientErrorHandler(app.log, err, socket, newRequestId),
    bodyLimit: DEFAULT_BODY_LIMIT,
    trustProxy: opts.trustProxy ?? false,
    // Slow-header / slow-body clients are cut off (see README "Limits and timeouts").
    connectionTimeout: 60_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    // Shutting down, a request already on an open connection (its headers still arriving at SIGTERM) is served
    // like the others in flight, with `Connection: close`: the database stays open until they are all done, and
    // Fastify's own 503 would be outside the platform's error shape. New connections are refused meanwhile.
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // URLs the router refuses (bad percent-escapes, over-long parameters) get the platform's error shape too.
    frameworkErrors: frameworkErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.decorate("inFlight", trackInFlight(app));
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  app.addHook("onSend", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    reply.header("x-content-type-options", "nosniff");
  });

  // app plugins every response goes through: security headers (the strict CSP of an API that never serves a
  // page, unless a scope sets its own), the JSON error shape (router-level refusals and unknown routes
  // included), metrics
  await app.register(securityHeaders, { corsOrigins: opts.corsOrigins });
  await app.register(errorHandler);
  await app.register(metricsPlugin, {
    metrics:
      opts.metrics ?? createMetrics({ pingDatabase: () => opts.prisma.$queryRaw`SELECT 1`, erasureTotals: () => opts.services.erasure.totals() }),
    dukcapil: opts.services.dukcapil,
    faceMatch: opts.services.faceMatch,
  });
  await app.register(authPlugin, { apiKeys: opts.services.apiKeys });

  // The JSON API, in its own scope: the JSON body parser, rate limits, idempotency and the OpenAPI document
  // apply to its routes only (a browser-facing scope gets forms and HTML errors of its own).
  let api: FastifyInstance | undefined;
  await app.register(async (scope) => {
    api = scope;
    await scope.register(jsonBody);
    await scope.register(rateLimitPlugin, { redis: opts.redis, clock: opts.rateLimitClock });
    await scope.register(idempotencyPlugin, { idempotency: opts.services.idempotency });
    await scope.register(openapiPlugin); // before the routes: it collects them as they register

    await scope.register(healthRoutes, { prisma: opts.prisma });
    await scope.register(customersRoutes, { customers: opts.services.customers });
    await scope.register(dukcapilRoutes, { dukcapil: opts.services.dukcapil });
    await scope.register(faceMatchRoutes, { faceMatch: opts.services.faceMatch });
    await scope.register(kycRoutes, { kyc: opts.services.kyc });
    await scope.register(attemptsRoutes, { attempts: opts.services.attempts });
  });
  app.decorate("openapiDocument", () => api!.swagger());

  // The compliance console, in a scope of its own beside the API's: forms, cookies, HTML pages and errors and
  // a CSP of its own; outside the API scope, so none of it is in the OpenAPI document.
  await app.register(consolePlugin, { prefix: "/console", services: opts.services, secureCookies: opts.secureCookies ?? false });
  return app;
}
