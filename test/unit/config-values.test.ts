// loadConfig's values (test/unit/config.test.ts covers problems and production rules): defaults, coercion,
// trimming, the data dir made absolute, and each bounded variable refused just outside its bounds.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { generateSealingKeyEntry } from "../../src/crypto/seal.js";

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => p.split(":")[0]);
    throw e;
  }
};

describe("loadConfig values", () => {
  it("defaults", () => {
    expect(loadConfig({})).toMatchObject({
      env: "development",
      host: "127.0.0.1",
      port: 3000,
      dataDir: path.resolve(".data"),
      databaseUrl: undefined,
      databasePoolMax: 10,
      sealingKeys: undefined,
      redisUrl: undefined,
      logLevel: "info",
      trustProxy: false,
      corsOrigins: undefined,
      metrics: undefined,
      face: { engine: "onnx", timeoutMs: 3000, workers: 1 },
      retentionSweepIntervalSeconds: 3600,
      testHooks: {},
      warnings: [],
    });
  });

  it("the retention sweep interval: seconds or off; test hooks only with NODE_ENV=test", () => {
    expect(loadConfig({ RETENTION_SWEEP_INTERVAL_SECONDS: "off" }).retentionSweepIntervalSeconds).toBeNull();
    expect(loadConfig({ RETENTION_SWEEP_INTERVAL_SECONDS: " 86400 " }).retentionSweepIntervalSeconds).toBe(86_400);
    const hooks = { TEST_ERASURE_BATCH_SIZE: "2", TEST_ERASURE_PAUSE_MS: "1500", TEST_RETENTION_CLOCK_OFFSET_MS: "1000" };
    expect(loadConfig({ ...hooks, NODE_ENV: "production", SEALING_KEYS: generateSealingKeyEntry("k1") }).testHooks).toEqual({});
    expect(loadConfig({ ...hooks, NODE_ENV: "development" }).testHooks).toEqual({});
    expect(loadConfig({ ...hooks, NODE_ENV: "test" }).testHooks).toEqual({ erasureBatchSize: 2, erasurePauseMs: 1500, retentionClockOffsetMs: 1000 });
  });

  it("coerces, trims and resolves", () => {
    const keys = generateSealingKeyEntry("k1");
    const c = loadConfig({
      PORT: "0",
      DATA_DIR: "some/rel/dir",
      DATABASE_URL: "  postgresql://u@db:5432/x  ",
      DATABASE_POOL_MAX: "25",
      SEALING_KEYS: ` ${keys} `,
      REDIS_URL: "rediss://cache:6380",
      TRUST_PROXY: "true",
      CORS_ORIGINS: "https://a.example, http://localhost:5173",
      METRICS_PORT: "0",
      FACE_ENGINE: "off",
      FACE_TIMEOUT_MS: "100",
      FACE_WORKERS: "16",
    });
    expect(c).toMatchObject({
      port: 0,
      dataDir: path.resolve("some/rel/dir"),
      databaseUrl: "postgresql://u@db:5432/x",
      databasePoolMax: 25,
      sealingKeys: keys,
      redisUrl: "rediss://cache:6380",
      trustProxy: true,
      corsOrigins: ["https://a.example", "http://localhost:5173"],
      metrics: { host: "127.0.0.1", port: 0 },
      face: { engine: "off", timeoutMs: 100, workers: 16 },
    });
    expect(path.isAbsolute(c.dataDir)).toBe(true);
    // blank optional variables are unset, not errors
    expect(loadConfig({ DATABASE_URL: " ", SEALING_KEYS: "", REDIS_URL: "" })).toMatchObject({ databaseUrl: undefined, sealingKeys: undefined, redisUrl: undefined });
    expect(loadConfig({ DATABASE_URL: "postgres://h/db" }).databaseUrl).toBe("postgres://h/db");
    // so are blank ones with a default (an empty PORT was coerced to 0: a random port)
    expect(loadConfig({ PORT: "", HOST: " ", DATA_DIR: "", FACE_WORKERS: "" })).toMatchObject({ port: 3000, host: "127.0.0.1", face: { workers: loadConfig({}).face.workers } });
    expect(loadConfig({ DATA_DIR: "" }).dataDir).toBe(path.resolve(".data"));
  });

  it("refuses each bounded variable just outside its bounds", () => {
    const cases: [string, string][] = [
      ["PORT", "65536"],
      ["PORT", "-1"],
      ["PORT", "3000.5"],
      ["DATABASE_POOL_MAX", "0"],
      ["DATABASE_POOL_MAX", "201"],
      ["FACE_TIMEOUT_MS", "99"],
      ["FACE_TIMEOUT_MS", "60001"],
      ["FACE_WORKERS", "0"],
      ["FACE_WORKERS", "17"],
      ["FACE_ENGINE", "on"],
      ["RETENTION_SWEEP_INTERVAL_SECONDS", "0"],
      ["RETENTION_SWEEP_INTERVAL_SECONDS", "86401"],
      ["RETENTION_SWEEP_INTERVAL_SECONDS", "1h"],
      ["REDIS_URL", "http://cache"],
      ["CORS_ORIGINS", "*"],
      ["CORS_ORIGINS", "https://a.example/path"],
      ["METRICS_PORT", "abc"],
      ["SEALING_KEYS", `${generateSealingKeyEntry("k1")},${generateSealingKeyEntry("k1")}`],
      ["SEALING_KEYS", generateSealingKeyEntry("key one")],
    ];
    for (const [name, value] of cases) expect(problems({ [name]: value }), `${name}=${value}`).toEqual([name]);
    expect(problems({ METRICS_PORT: "65535", FACE_WORKERS: "1", FACE_TIMEOUT_MS: "60000", DATABASE_POOL_MAX: "200" })).toEqual([]);
  });
});
