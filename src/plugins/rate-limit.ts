// Per-key, per-bucket limits over a sliding 60-second window (rate-limit-log.ts): no 60 s span, wherever it
// starts, admits more than the limit. @fastify/rate-limit runs it through its store interface; the platform's
// conventions differ from the plugin's defaults, so the headers and the 429 body are ours: X-RateLimit-Reset is
// a Unix timestamp in seconds (when the oldest admitted request leaves the window, i.e. the next free slot),
// and Retry-After appears only on 429.
//
// What counts: every request that authenticated, whatever its outcome (400, 403, 404, 413, 415, 5xx too): the
// limit is on the work a key asks of us, and a client looping on a bad request is exactly the runaway it is
// for. A 401 counts for no key; a 429 is not admitted, so it does not count.
//
// Redis (REDIS_URL): one log shared by every replica. Redis down: we fail OVER, not open or closed. Each
// replica keeps its own log of what it admitted all along (Redis up or not), and a request must pass both; so
// when Redis goes away, a replica goes on counting from what it admitted itself in the last minute, instead of
// allowing the limit again at once. Across N replicas the effective limit is then at most N times the limit,
// until Redis is back and for one window after (what was admitted meanwhile is only in the replicas' logs).
import fp from "fastify-plugin";
import rateLimit from "@fastify/rate-limit";
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, onRequestHookHandler } from "fastify";
import type { Redis } from "ioredis";
import { AppError } from "../errors.js";
import { RATE_LIMIT_BUCKETS, type RateLimitBucket } from "../modules/orgs/orgs-types.js";
import { authContext } from "./auth.js";
import { MemoryWindowLog, RedisWindowLog, type WindowDecision } from "./rate-limit-log.js";

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

export const WINDOW_MS = 60_000;

export interface RateLimitOptions {
  redis?: Redis;
  /** Milliseconds since the epoch; tests move it by hand. */
  clock?: () => number;
}

/** Both logs, and the decision a request gets from them. */
function limiter({ redis, clock, log }: { redis?: Redis; clock: () => number; log: FastifyBaseLogger }) {
  const local = new MemoryWindowLog(WINDOW_MS);
  const shared = redis ? new RedisWindowLog(redis, WINDOW_MS, "qe-rl:") : undefined;
  let degradedSince: number | undefined;
  return async function take(key: string, limit: number): Promise<WindowDecision & { now: number }> {
    const now = clock();
    const mine = local.take(key, limit, now); // records our own admission first: synchronous, race-free
    if (!shared || !mine.allowed) return { ...mine, now };
    let decision: WindowDecision;
    try {
      decision = await shared.take(key, limit, now);
    } catch (err) {
      if (degradedSince === undefined) {
        degradedSince = Date.now();
        log.error({ err }, "rate limit store (Redis) unavailable; falling back to per-replica in-memory limits");
      }
      return { ...mine, now };
    }
    if (degradedSince !== undefined) {
      log.warn({ degradedForMs: Date.now() - degradedSince }, "rate limit store (Redis) is back; limits are shared again");
      degradedSince = undefined;
    }
    if (!decision.allowed) local.release(key, now); // not admitted after all
    return { ...decision, now };
  };
}

export default fp<RateLimitOptions>(async (app, { redis, clock = Date.now }) => {
  const take = limiter({ redis, clock, log: app.log });

  /** @fastify/rate-limit's store interface over the logs: `current` above `max` means refused; `ttl` is the wait for the next free slot. */
  const store = {
    incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, _windowMs: number, max: number) {
      take(key, max).then((d) => cb(null, { current: d.allowed ? d.count : max + 1, ttl: Math.max(0, d.nextFreeAt - d.now) }), cb);
    },
    child: () => store,
  };

  let factory: ((bucket: RateLimitBucket) => ReturnType<FastifyInstance["createRateLimit"]>) | undefined;
  await app.register(async (scope) => {
    // (the plugin constructs its store from a class: hand it ours)
    await scope.register(rateLimit, { global: false, timeWindow: WINDOW_MS, skipOnError: false, store: function Store() { return store; } as never });
    factory = (bucket) =>
      scope.createRateLimit({
        timeWindow: WINDOW_MS,
        keyGenerator: (req: FastifyRequest) => `${bucket}:${authContext(req).keyId}`,
        max: (req: FastifyRequest) => authContext(req).rateLimits[bucket] ?? RATE_LIMIT_BUCKETS[bucket],
      });
  });

  app.decorate("rateLimitFor", (bucket: RateLimitBucket) => {
    const check = factory!(bucket);
    return async (request, reply) => {
      const result = await check(request);
      if (result.isAllowed) return; // (only an allow list says so, and there is none)
      reply.header("x-ratelimit-limit", result.max);
      reply.header("x-ratelimit-remaining", result.isExceeded ? 0 : result.remaining);
      reply.header("x-ratelimit-reset", Math.ceil((clock() + result.ttl) / 1000));
      if (result.isExceeded) {
        reply.header("retry-after", Math.max(1, result.ttlInSeconds));
        throw new RateLimitedError(bucket, result.max);
      }
    };
  });
});
