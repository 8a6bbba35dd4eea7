// The service: configuration → database (open + migrate) → HTTP → graceful shutdown.
import v8 from "node:v8";
import { pino } from "pino";
import { Redis } from "ioredis";
import { buildApp } from "./app.js";
import { adminSocketPath, startAdminSocket } from "./cli/admin-socket.js";
import { runAdminCommand } from "./cli/commands.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { loggerOptions } from "./logging.js";
import { createMetrics, startMetricsServer } from "./metrics.js";
import { acquireDataDirLock, STALE_MS, type DataDirLock } from "./runtime/data-dir-lock.js";
import { startRetentionSweeper } from "./modules/retention/retention-sweeper.js";
import { openRuntime } from "./runtime/open.js";
import { createFilesPrivately, makeDataDirPrivate } from "./runtime/private-files.js";

createFilesPrivately(); // before anything touches the data directory

// V8 lets its old generation grow to a few times the live heap before a full collection, so a sustained
// stream of short-lived objects (a million-row CSV export through Prisma) swells RSS by ~110 MB of garbage.
// Growing it by 30 % at a time keeps the peak near the live heap at the same speed (README "Compliance
// console", bench:export). Set first thing, before the service allocates.
v8.setFlagsFromString("--heap-growing-percent=30");

const SHUTDOWN_GRACE_MS = 25_000;
const LAST_USED_FLUSH_MS = 5_000;

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    for (const p of err.problems) console.error(`config error: ${p}`);
    process.exit(1);
  }
  throw err;
}
const log = pino(loggerOptions(config.logLevel));
for (const w of config.warnings) log.warn(`config warning: ${w}`);

async function main() {
  const loosened = await makeDataDirPrivate(config.dataDir, { create: !config.databaseUrl });
  if (loosened) log.warn({ dataDir: config.dataDir, modesChanged: loosened }, "the data directory had entries other users could read: made them owner-only");
  // The embedded database belongs to exactly one process; wait briefly if an admin command holds it.
  let lock: DataDirLock | undefined;
  // (up to STALE_MS and a little more: a container restarted after a crash waits out its predecessor's lock)
  if (!config.databaseUrl) lock = await acquireDataDirLock(config.dataDir, "server", STALE_MS + 5_000);

  const runtime = await openRuntime(config, log);
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        // Fail fast while Redis is down (the rate limiter falls back to in-memory limits) and reconnect forever.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
        commandTimeout: 1_000,
        retryStrategy: (times) => Math.min(times * 200, 2_000),
      })
    : undefined;
  redis?.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));

  const metrics = createMetrics({
    pingDatabase: () => runtime.db.prisma.$queryRaw`SELECT 1`,
    poolStats: runtime.db.poolStats,
    erasureTotals: () => runtime.services.erasure.totals(),
    processMetrics: true,
  });
  const app = await buildApp({
    prisma: runtime.db.prisma,
    services: runtime.services,
    redis,
    logLevel: config.logLevel,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    metrics,
    secureCookies: config.env === "production",
  });
  // Slow clients (README "Limits and timeouts"): all headers within 10 s, the whole request within 30 s. Node
  // enforces both only when it checks its connections, every 30 s by default (read at listen), which would
  // stretch 10 s to 40 s: check every second.
  app.server.headersTimeout = 10_000;
  app.server.requestTimeout = 30_000;
  Object.assign(app.server, { connectionsCheckingInterval: 1_000 });
  await app.listen({ host: config.host, port: config.port });
  const metricsServer = config.metrics ? await startMetricsServer({ registry: metrics.registry, ...config.metrics }) : undefined;

  const admin = lock
    ? await startAdminSocket(
        adminSocketPath(config.dataDir),
        (argv) => {
          log.info({ command: argv.slice(0, 2).join(" ") }, "admin command"); // the verb only: arguments may be sensitive
          return runAdminCommand(runtime.services, argv);
        },
        (err) => log.error({ err }, "admin command failed"),
      )
    : undefined;
  if (lock && admin) await lock.update({ adminSocket: adminSocketPath(config.dataDir) });

  const flushTimer = setInterval(() => {
    runtime.services.apiKeys.flushLastUsed().catch((err: unknown) => log.warn({ err }, "could not write API key last-used times"));
  }, LAST_USED_FLUSH_MS);
  flushTimer.unref();
  const sweeper =
    config.retentionSweepIntervalSeconds === null
      ? undefined
      : startRetentionSweeper({ retention: runtime.services.retention, intervalMs: config.retentionSweepIntervalSeconds * 1000, log });

  log.info(
    {
      url: `http://${config.host}:${config.port}`,
      metrics: metricsServer ? `http://${config.metrics!.host}:${metricsServer.port}/metrics` : "off",
      database: runtime.db.kind,
      env: config.env,
      retentionSweep: config.retentionSweepIntervalSeconds === null ? "off" : `every ${config.retentionSweepIntervalSeconds} s`,
    },
    "service ready",
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: no new requests, finishing in-flight ones");
    const force = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      clearInterval(flushTimer);
      await app.close(); // stops accepting, waits for in-flight requests' connections
      // and for the work of requests whose client went away meanwhile, before the database closes under it
      const unfinished = await app.inFlight.drained(SHUTDOWN_GRACE_MS - 5_000);
      if (unfinished) log.warn({ unfinished }, "requests still running at shutdown; closing the database anyway");
      await sweeper?.stop(); // after the batch in flight
      await metricsServer?.close();
      await admin?.close();
      await runtime.close();
      await redis?.quit().catch(() => {});
      await lock?.release();
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "error during shutdown");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  log.fatal({ err }, "service failed to start");
  process.exit(1);
});
