// Per-key, per-bucket, per-minute limits, built on @fastify/rate-limit's stores (in memory, or Redis shared
// by all replicas). The platform's conventions differ from the plugin's defaults, so the headers and the 429
// body are ours: X-RateLimit-Reset is a Unix timestamp in seconds, and Retry-After appears only on 429.
//
// Redis down: we fail OVER, not open or closed. Each replica falls back to its own in-memory limiter and logs
// it, so the service stays up and every replica still enforces the limit; the effective limit across N
// replicas is at most N times the configured one until Redis is back.
import fp from "fastify-plugin";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from "fastify";
import type { Redis } from "ioredis";
import { AppError } from "../errors.js";
import { RATE_LIMIT_BUCKETS, type RateLimitBucket } from "../modules/orgs/orgs-types.js";
import { authContext } from "./auth.js";

declare module "fastify" {
  interface FastifyInstance {
    rateLimitFor(bucket: RateLimitBucket): onRequestHookHandler;
  }
}

export class RateLimitedError extends AppError {
  constructor(bucket: string, limit: number) {
    super(429, "rate limit exceeded", "rate_limited", { bucket, limit });
  }
}

const WINDOW_MS = 60_000;
type Limiter = ReturnType<FastifyInstance["createRateLimit"]>;
type LimiterFactory = (bucket: RateLimitBucket) => Limiter;

/** Registers @fastify/rate-limit in its own scope (one store per scope) and hands back its limiter factory. */
async function limiterFactory(app: FastifyInstance, store: { redis?: Redis }): Promise<LimiterFactory> {
  let factory: LimiterFactory | undefined;
  await app.register(async (scope) => {
    await scope.register(rateLimit, {
      global: false,
      timeWindow: WINDOW_MS,
      skipOnError: false,
      cache: 100_000,
      ...(store.redis ? { redis: store.redis, nameSpace: "qe-rl:" } : {}),
    });
    factory = (bucket) =>
      scope.createRateLimit({
        timeWindow: WINDOW_MS,
        keyGenerator: (req: FastifyRequest) => `${bucket}:${authContext(req).keyId}`,
        max: (req: FastifyRequest) => limitOf(req, bucket),
      });
  });
  return factory!;
}

function limitOf(req: FastifyRequest, bucket: RateLimitBucket): number {
  return authContext(req).rateLimits[bucket] ?? RATE_LIMIT_BUCKETS[bucket];
}

export default fp<{ redis?: Redis }>(async (app, { redis }) => {
  const primary = await limiterFactory(app, { redis });
  const fallback = redis ? await limiterFactory(app, {}) : undefined;
  let degradedSince: number | undefined;

  app.decorate("rateLimitFor", (bucket: RateLimitBucket) => {
    const check = primary(bucket);
    const local = fallback?.(bucket);
    return async (request, reply) => {
      let result: Awaited<ReturnType<Limiter>>;
      try {
        result = await check(request);
        if (degradedSince !== undefined) {
          request.log.warn({ degradedForMs: Date.now() - degradedSince }, "rate limit store (Redis) is back; limits are shared again");
          degradedSince = undefined;
        }
      } catch (err) {
        if (!local) throw err;
        if (degradedSince === undefined) {
          degradedSince = Date.now();
          request.log.error({ err }, "rate limit store (Redis) unavailable; falling back to per-replica in-memory limits");
        }
        result = await local(request);
      }
      if (result.isAllowed) return;
      const reset = Math.ceil((Date.now() + result.ttl) / 1000);
      reply.header("x-ratelimit-limit", result.max);
      reply.header("x-ratelimit-remaining", result.isExceeded ? 0 : result.remaining);
      reply.header("x-ratelimit-reset", reset);
      if (result.isExceeded) {
        reply.header("retry-after", Math.max(1, result.ttlInSeconds));
        throw new RateLimitedError(bucket, result.max);
      }
    };
  });
});
