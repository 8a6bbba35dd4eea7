// The admin CLI: `npm run --silent admin -- <command>`. Prints one JSON object on stdout and exits 0; on
// failure a clear message on stderr and a non-zero exit (2 for usage errors).
//
// With the embedded database, the process that owns it is the only one that opens it: when a server runs,
// the command is handed to it over its admin socket; otherwise the CLI takes the data-dir lock itself.
import { pino } from "pino";
import { ConfigError, loadConfig } from "../config.js";
import { loggerOptions } from "../logging.js";
import { acquireDataDirLock, lockHolder } from "../runtime/data-dir-lock.js";
import { openRuntime } from "../runtime/open.js";
import { createFilesPrivately, makeDataDirPrivate } from "../runtime/private-files.js";
import { callAdminSocket, successReply, toAdminReply, type AdminReply } from "./admin-socket.js";
import { runOfflineCommand } from "./offline-commands.js";
import { runAdminCommand, USAGE, withDefaultAuditActor } from "./commands.js";
import { setTimeout as sleep } from "node:timers/promises";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

async function viaServerOrLocally(argv: string[]): Promise<AdminReply> {
  const config = loadConfig();
  const level = process.env.ADMIN_LOG_LEVEL?.trim() || "warn";
  if (!LOG_LEVELS.includes(level)) throw new ConfigError([`ADMIN_LOG_LEVEL: must be one of ${LOG_LEVELS.join(", ")}`]);
  const log = pino({ ...loggerOptions(level) }, pino.destination(2));
  const runLocally = async () => {
    await makeDataDirPrivate(config.dataDir, { create: !config.databaseUrl });
    const runtime = await openRuntime(config, log, { face: "on-demand" }); // only retemplate needs the engine
    try {
      return successReply(await runAdminCommand(runtime.services, argv));
    } catch (err) {
      const reply = toAdminReply(err);
      if (reply.error?.kind === "internal") log.error({ err }, "admin command failed");
      return reply;
    } finally {
      await runtime.close();
    }
  };
  if (config.databaseUrl) return runLocally();

  const deadline = Date.now() + 30_000;
  for (;;) {
    const holder = await lockHolder(config.dataDir);
    if (holder?.role === "server" && holder.adminSocket) return callAdminSocket(holder.adminSocket, argv);
    if (!holder) {
      try {
        const lock = await acquireDataDirLock(config.dataDir, "admin");
        try {
          return await runLocally();
        } finally {
          await lock.release();
        }
      } catch {
        // someone took the lock between our look and our try: look again
      }
    }
    if (Date.now() > deadline) throw new Error(`the embedded database is busy (pid ${holder?.pid}, ${holder?.role}); try again`);
    await sleep(200); // a server still starting up, or another admin command
  }
}

async function main(): Promise<number> {
  createFilesPrivately(); // before anything touches the data directory
  const argv = process.argv.slice(2);
  if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    process.stdout.write(`${USAGE}\n`); // asked for: the answer, on stdout
    return 0;
  }
  if (argv.length === 0) {
    console.error(USAGE); // a mistake: usage on stderr, stdout stays empty
    return 2;
  }
  const reply = runOfflineCommand(argv) ?? (await viaServerOrLocally(withDefaultAuditActor(argv))); // offline: no database, no config
  if (reply.ok) {
    process.stdout.write(`${reply.verbatim ?? JSON.stringify(reply.result)}\n`);
    return 0;
  }
  const err = reply.error!;
  console.error(`error: ${err.message}`);
  for (const [field, msgs] of Object.entries(err.fieldErrors ?? {})) console.error(`  ${field}: ${msgs.join("; ")}`);
  if (err.kind === "usage") console.error(USAGE);
  return err.kind === "usage" ? 2 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) for (const p of err.problems) console.error(`config error: ${p}`);
    else console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
