// Sliding-window logs: the rate limiter's memory of which requests it admitted, per key, over the last window.
// A request is admitted when fewer than `limit` admitted requests lie in the window that ends with it (the
// last 60 s), and only then recorded. So no span of 60 s, wherever it starts, ever holds more than `limit`
// admitted requests: a fixed one-minute window let a key make 2 × limit in a second across a window's edge.
//
// Two implementations with the same semantics: one in memory (per process), one in Redis (shared by every
// replica, one atomic Lua script per request). Refused requests are not recorded: a client that keeps retrying
// too fast gets in again as soon as its oldest admitted request leaves the window.
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

export interface WindowDecision {
  allowed: boolean;
  /** Admitted requests in the window, this one included when it was admitted. */
  count: number;
  /** When the oldest admitted request in the window leaves it (ms since the epoch): the next free slot. */
  nextFreeAt: number;
}

/** One key's admitted times, oldest first, with a moving start (no array shifting on the hot path). */
interface KeyLog {
  times: number[];
  start: number;
}

/** The in-memory log, per process. Memory: at most `limit` numbers per key active in the last window. */
export class MemoryWindowLog {
  private readonly logs = new Map<string, KeyLog>();
  private lastSweep = 0;

  constructor(
    private readonly windowMs: number,
    /** Above this many keys, the least recently used are forgotten first (a bound, far above real use). */
    private readonly maxKeys = 100_000,
  ) {}

  /** Decides and, when admitted, records: synchronous, so two requests of one process can never both take the last slot. */
  take(key: string, limit: number, now: number): WindowDecision {
    this.sweep(now);
    let log = this.logs.get(key);
    if (log) this.logs.delete(key); // re-inserted below: the Map's order is least recently used first
    else log = { times: [], start: 0 };
    const cutoff = now - this.windowMs;
    while (log.start < log.times.length && log.times[log.start]! <= cutoff) log.start++;
    if (log.start > 64 && log.start * 2 > log.times.length) {
      log.times = log.times.slice(log.start);
      log.start = 0;
    }
    let count = log.times.length - log.start;
    const allowed = count < limit;
    if (allowed) {
      // times arrive in order from one clock; keep the log sorted should a clock step back
      let i = log.times.length;
      while (i > log.start && log.times[i - 1]! > now) i--;
      log.times.splice(i, 0, now);
      count++;
    }
    this.logs.set(key, log);
    while (this.logs.size > this.maxKeys) this.logs.delete(this.logs.keys().next().value!);
    return { allowed, count, nextFreeAt: (count > 0 ? log.times[log.start]! : now) + this.windowMs };
  }

  /** Takes back an admission recorded at `at` (the shared log refused the request after all). */
  release(key: string, at: number): void {
    const log = this.logs.get(key);
    if (!log) return;
    const i = log.times.lastIndexOf(at);
    if (i >= log.start) log.times.splice(i, 1);
  }

  /** Forgets keys with nothing left in their window, once per window. */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    const cutoff = now - this.windowMs;
    for (const [key, log] of this.logs) if (log.times.length === 0 || log.times.at(-1)! <= cutoff) this.logs.delete(key);
  }
}

// KEYS[1]: the key's sorted set (score: admitted at, ms). ARGV: now, window, limit, a unique member.
const TAKE = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {allowed, count, oldest[2] or tostring(now)}
`;

/** The shared log in Redis: the check and the record are one atomic script, so replicas never race for a slot. */
export class RedisWindowLog {
  /** Unique per process, so two replicas' members recorded in the same millisecond stay two members. */
  private readonly origin = randomBytes(6).toString("base64url");
  private seq = 0;

  constructor(
    private readonly redis: Redis,
    private readonly windowMs: number,
    private readonly prefix: string,
  ) {
    if (!("qeRateLimitTake" in redis)) redis.defineCommand("qeRateLimitTake", { numberOfKeys: 1, lua: TAKE });
  }

  async take(key: string, limit: number, now: number): Promise<WindowDecision> {
    const run = (this.redis as unknown as { qeRateLimitTake(...args: (string | number)[]): Promise<[number, number, string]> }).qeRateLimitTake;
    const [allowed, count, oldest] = await run.call(this.redis, `${this.prefix}${key}`, now, this.windowMs, limit, `${now}:${this.origin}:${this.seq++}`);
    return { allowed: allowed === 1, count, nextFreeAt: Number(oldest) + this.windowMs };
  }
}
