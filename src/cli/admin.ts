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

/**
 * Writes `text` and resolves once it has been handed to the OS. On a pipe, Node queues what the pipe cannot take
 * at once (64 KiB) and writes it later: exiting before then would cut the output short. Rejects when the reader
 * has gone (EPIPE).
 */
function writeAll(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

/** What to print and the exit code. */
interface Outcome {
  code: number;
  stdout?: string;
  stderr?: string[];
}

async function main(): Promise<Outcome> {
  createFilesPrivately(); // before anything touches the data directory
  const argv = process.argv.slice(2);
  if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") return { code: 0, stdout: `${USAGE}\n` }; // asked for: on stdout
  if (argv.length === 0) return { code: 2, stderr: [USAGE] }; // a mistake: usage on stderr, stdout stays empty
  const reply = runOfflineCommand(argv) ?? (await viaServerOrLocally(withDefaultAuditActor(argv))); // offline: no database, no config
  if (reply.ok) return { code: 0, stdout: `${reply.verbatim ?? JSON.stringify(reply.result)}\n` };
  const err = reply.error!;
  const lines = [`error: ${err.message}`, ...Object.entries(err.fieldErrors ?? {}).map(([field, msgs]) => `  ${field}: ${msgs.join("; ")}`)];
  if (err.kind === "usage") lines.push(USAGE);
  return { code: err.kind === "usage" ? 2 : 1, stderr: lines };
}

/** Prints the outcome whole, then exits: never before the last byte has left (see writeAll). */
async function finish(outcome: Outcome): Promise<never> {
  let code = outcome.code;
  try {
    if (outcome.stdout !== undefined) await writeAll(process.stdout, outcome.stdout);
  } catch (err) {
    // The reader went away (`… | head -c 100`): the output did not arrive whole, so this is no success.
    code = 1;
    outcome.stderr = [`error: stdout was closed before the output was written whole (${(err as NodeJS.ErrnoException).code ?? String(err)})`];
  }
  // (also when there is nothing to add: progress lines written earlier must get out first)
  await writeAll(process.stderr, outcome.stderr?.length ? `${outcome.stderr.join("\n")}\n` : "").catch(() => {});
  process.exit(code);
}

// A reader that goes away makes the streams emit EPIPE errors: writeAll reports them; never crash on them.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

main().then(finish, (err: unknown) =>
  finish({
    code: 1,
    stderr: err instanceof ConfigError ? err.problems.map((p) => `config error: ${p}`) : [`error: ${err instanceof Error ? err.message : String(err)}`],
  }),
);
