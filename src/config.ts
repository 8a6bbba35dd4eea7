// Every environment variable the service reads, validated once at start-up. Each bad or missing variable is
// one line ("NAME: what is wrong"), never its value (some are secrets). README "Configuration" lists them all.
import path from "node:path";
import { z } from "zod";
import { createSealer, parseSealingKeys } from "./crypto/seal.js";

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const port = () => z.coerce.number({ error: "must be a port number (0-65535)" }).int("must be a port number (0-65535)").min(0).max(65535);

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const METRICS_TOKEN_MIN = 32;

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: port().default(3000),
  DATA_DIR: z.string().min(1).default("./.data"),
  DATABASE_URL: optionalString.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
    message: "must be a postgresql:// URL (leave unset for the embedded database)",
  }),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  SEALING_KEYS: optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      createSealer(parseSealingKeys(v)); // the whole keyring: key sizes, id format, no id twice
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  }),
  REDIS_URL: optionalString.refine((v) => v === undefined || /^rediss?:\/\//.test(v), {
    message: "must be a redis:// or rediss:// URL",
  }),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TRUST_PROXY: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  // Prometheus metrics are served on their own listener, never on the API port (see README "Metrics").
  METRICS_PORT: optionalString.transform((v, ctx) => {
    if (v === undefined || v === "off") return v;
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
      ctx.addIssue({ code: "custom", message: "must be a port number (0-65535) or off" });
      return z.NEVER;
    }
    return Number(v);
  }),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  // The face engine (README "Face templates"): `off` makes every enrolment a stub with cause engine_off.
  // `human` is its name from before the pipeline ran on onnxruntime alone: still accepted, the same engine.
  FACE_ENGINE: z.enum(["onnx", "human", "off"]).default("onnx"),
  FACE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
  // Default 1 on the 2-core machines it is sized for: the other core serves HTTP, photo checks and the
  // database, and RSS stays under 450 MB; a second worker buys throughput for ~+150 MB (README "Face templates").
  FACE_WORKERS: z.coerce.number().int().min(1).max(16).default(1),
  // The background retention sweep (README "Erasure and retention"): seconds between runs, or off.
  RETENTION_SWEEP_INTERVAL_SECONDS: optionalString.transform((v, ctx) => {
    if (v === undefined) return 3600;
    if (v === "off") return null;
    if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 86_400) {
      ctx.addIssue({ code: "custom", message: "must be a whole number of seconds from 1 to 86400, or off" });
      return z.NEVER;
    }
    return Number(v);
  }),
  // Browser origins allowed to call the API (CORS); unset: no CORS at all (see SECURITY.md).
  CORS_ORIGINS: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const origins = v.split(",").map((o) => o.trim()).filter(Boolean);
    const bad = origins.filter((o) => !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(o));
    if (bad.length || origins.length === 0) {
      ctx.addIssue({ code: "custom", message: "must be a comma-separated list of origins like https://dashboard.bank.example (no *, no path)" });
      return z.NEVER;
    }
    return origins;
  }),
  METRICS_TOKEN: optionalString.refine((v) => v === undefined || v.length >= METRICS_TOKEN_MIN, {
    message: `must be at least ${METRICS_TOKEN_MIN} characters (e.g. openssl rand -hex 32)`,
  }),
});

/** Every variable loadConfig reads (.env.example and the README table list each one; a test checks). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export interface MetricsConfig {
  host: string;
  port: number;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string;
}

export interface FaceConfig {
  engine: "onnx" | "off";
  /** Budget for one photo's template, queueing included. */
  timeoutMs: number;
  /** Worker threads, each holding its own copy of the models. */
  workers: number;
}

/**
 * Fault-injection hooks for the tests that drive real processes (test/faults, test/cli). Read only when
 * NODE_ENV=test, never otherwise; not configuration, so not in CONFIG_VARIABLES.
 */
export interface TestHooks {
  /** TEST_ERASURE_BATCH_SIZE: rows per erasure batch (default 50). */
  erasureBatchSize?: number;
  /** TEST_ERASURE_PAUSE_MS: a pause after each committed erasure batch, so a test can kill the process between two. */
  erasurePauseMs?: number;
  /** TEST_RETENTION_CLOCK_OFFSET_MS: the retention sweep's clock runs this far ahead. */
  retentionClockOffsetMs?: number;
}

function testHooks(env: NodeJS.ProcessEnv): TestHooks {
  const n = (name: string) => (env[name]?.trim() && /^\d+$/.test(env[name]!.trim()) ? Number(env[name]) : undefined);
  return { erasureBatchSize: n("TEST_ERASURE_BATCH_SIZE") || undefined, erasurePauseMs: n("TEST_ERASURE_PAUSE_MS"), retentionClockOffsetMs: n("TEST_RETENTION_CLOCK_OFFSET_MS") };
}

export interface Config {
  env: "development" | "test" | "production";
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  databasePoolMax: number;
  sealingKeys?: string;
  redisUrl?: string;
  logLevel: string;
  trustProxy: boolean;
  /** Origins allowed by CORS; absent: CORS off. */
  corsOrigins?: string[];
  /** Absent when METRICS_PORT is unset or off. */
  metrics?: MetricsConfig;
  face: FaceConfig;
  /** Seconds between background retention sweeps; null: off (run `admin retention sweep` yourself). */
  retentionSweepIntervalSeconds: number | null;
  /** Only with NODE_ENV=test (empty otherwise). */
  testHooks: TestHooks;
  /** Allowed but worth an operator's attention; the server logs each at start. */
  warnings: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

type EnvName = keyof typeof envSchema.shape;

/** Validates the named variables, each on its own, so one run reports every bad variable. */
function parseVariables(env: NodeJS.ProcessEnv, names: readonly EnvName[]): { values: Record<string, unknown>; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const schema = envSchema.shape[name];
    // An empty value (`PORT=` in an env file) means unset, as in most tools: it takes the default or is
    // reported as required, never coerced (an empty PORT would have become 0, a random port).
    const raw = env[name]?.trim() === "" ? undefined : env[name];
    const r = schema.safeParse(raw, {
      // Messages never echo the value: SEALING_KEYS, METRICS_TOKEN and DATABASE_URL hold secrets.
      error: (issue) => (issue.input === undefined ? "required" : undefined),
    });
    if (r.success) values[name] = r.data;
    else problems.push(...r.error.issues.map((i) => `${name}: ${i.message}`));
  }
  return { values, problems };
}

/**
 * Only what reaching the database needs (DATABASE_URL, else DATA_DIR): for the one-shot migration command,
 * which must run in the production image without the service's secrets (SEALING_KEYS, METRICS_TOKEN).
 */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): Pick<Config, "dataDir" | "databaseUrl"> {
  const { values, problems } = parseVariables(env, ["DATA_DIR", "DATABASE_URL"]);
  if (problems.length) throw new ConfigError(problems);
  const e = values as Pick<z.output<typeof envSchema>, "DATA_DIR" | "DATABASE_URL">;
  return { dataDir: path.resolve(e.DATA_DIR), databaseUrl: e.DATABASE_URL };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const { values, problems } = parseVariables(env, Object.keys(envSchema.shape) as EnvName[]);
  const warnings: string[] = [];
  const e = values as z.output<typeof envSchema>;
  const production = e.NODE_ENV === "production";

  if (production && !e.SEALING_KEYS && !problems.some((p) => p.startsWith("SEALING_KEYS:"))) {
    problems.push(
      "SEALING_KEYS: required in production (biometric data must never be sealed with a generated key; " +
        "make one with: npm run --silent admin -- sealing-key generate)",
    );
  }

  const metricsOn = e.METRICS_PORT !== undefined && e.METRICS_PORT !== "off";
  if (metricsOn && production && !e.METRICS_TOKEN && !LOOPBACK.has(e.METRICS_HOST)) {
    problems.push(`METRICS_TOKEN: required in production when metrics listen on ${e.METRICS_HOST} (not loopback)`);
  }
  if (metricsOn && e.METRICS_PORT === e.PORT && e.PORT !== 0) {
    problems.push("METRICS_PORT: must differ from PORT (metrics are never served on the API listener)");
  }
  if (production && (e.LOG_LEVEL === "debug" || e.LOG_LEVEL === "trace")) {
    warnings.push(`LOG_LEVEL: ${e.LOG_LEVEL} in production logs far more request detail than needed; use info`);
  }
  if (production && !e.DATABASE_URL && e.REDIS_URL) {
    warnings.push("REDIS_URL: set with the embedded database (one node); Redis only matters for replicas on PostgreSQL");
  }
  if (e.FACE_ENGINE === "human") warnings.push("FACE_ENGINE: human is the old name of onnx (the same face engine); set onnx");
  if (problems.length) throw new ConfigError(problems);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    sealingKeys: e.SEALING_KEYS,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    corsOrigins: e.CORS_ORIGINS,
    metrics: metricsOn ? { host: e.METRICS_HOST, port: e.METRICS_PORT as number, token: e.METRICS_TOKEN } : undefined,
    face: { engine: e.FACE_ENGINE === "off" ? "off" : "onnx", timeoutMs: e.FACE_TIMEOUT_MS, workers: e.FACE_WORKERS },
    retentionSweepIntervalSeconds: e.RETENTION_SWEEP_INTERVAL_SECONDS,
    testHooks: e.NODE_ENV === "test" ? testHooks(env) : {},
    warnings,
  };
}
