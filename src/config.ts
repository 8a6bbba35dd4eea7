// Every environment variable the service reads, validated once at start-up.
import path from "node:path";
import { z } from "zod";

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATA_DIR: z.string().min(1).default("./.data"),
  DATABASE_URL: optionalString.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
    message: "must be a postgresql:// URL (leave unset for the embedded database)",
  }),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  SEALING_KEYS: optionalString,
  REDIS_URL: optionalString.refine((v) => v === undefined || /^rediss?:\/\//.test(v), {
    message: "must be a redis:// or rediss:// URL",
  }),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TRUST_PROXY: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  // The face engine (README "Face templates"): `off` makes every enrolment a stub with cause engine_off.
  FACE_ENGINE: z.enum(["human", "off"]).default("human"),
  FACE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
  FACE_WORKERS: z.coerce.number().int().min(1).max(16).default(1),
});

export interface FaceConfig {
  engine: "human" | "off";
  /** Budget for one photo's template, queueing included. */
  timeoutMs: number;
  /** Worker threads, each holding its own copy of the models. */
  workers: number;
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
  face: FaceConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.NODE_ENV === "production" && !e.SEALING_KEYS) {
    problems.push("SEALING_KEYS: required in production (biometric data must never be sealed with a generated key)");
  }
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
    face: { engine: e.FACE_ENGINE, timeoutMs: e.FACE_TIMEOUT_MS, workers: e.FACE_WORKERS },
  };
}
