// The faults suite's harness: real server processes (`node --import tsx src/server.ts`), a PostgreSQL
// cluster of its own (initdb into a temp dir, random port, trust auth), a redis-server of its own, the real
// admin CLI, and a plain HTTP client with no connection reuse. Everything started here is registered and
// killed by `cleanupAll()`, even when a test fails half-way.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "../..");

// ---------------------------------------------------------------------------------------------- cleanup

const cleanups: (() => Promise<void>)[] = [];

/** Registers an undo step; `cleanupAll` runs them newest first and never throws. */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

export async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    const fn = cleanups.pop()!;
    await fn().catch((err: unknown) => console.error("cleanup step failed:", err));
  }
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `qe-faults-${prefix}-`));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------------------------------- PostgreSQL

export interface PgCluster {
  port: number;
  /** postgresql:// URL of a database in the cluster. */
  url(database?: string): string;
  createDatabase(): Promise<string>;
  /** `fast` terminates sessions (what an operator's restart or a failover does); `immediate` is a crash. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT to every process of the cluster: it accepts connections but never answers (a partition). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
}

function pgBinDir(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, "bin", "initdb"))) : [];
  if (!versions.length) throw new Error(`no PostgreSQL server binaries under ${base}/*/bin`);
  return path.join(base, versions.sort((a, b) => Number(b) - Number(a))[0]!, "bin");
}

/** PostgreSQL refuses to run as root: as root (CI), its binaries run as the postgres OS user. */
const asPostgresUser = process.getuid?.() === 0;

async function pgTool(tool: string, args: string[]): Promise<void> {
  const bin = path.join(pgBinDir(), tool);
  if (asPostgresUser) await run("runuser", ["-u", "postgres", "--", bin, ...args], { cwd: "/" });
  else await run(bin, args);
}

/** A throwaway cluster (initdb into a temp dir, trust auth, random port on 127.0.0.1), removed by cleanupAll. */
export async function startPgCluster(): Promise<PgCluster> {
  const dir = await tempDir("pg");
  if (asPostgresUser) await chown(dir, Number((await run("id", ["-u", "postgres"])).stdout.trim()), 0);
  const data = path.join(dir, "data");
  const port = await freePort();
  await pgTool("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  // fsync off: these tests kill the service, never the machine, so durability across an OS crash is not
  // what is tested and the shared disk is spared.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  let running = false;
  const cluster: PgCluster = {
    port,
    url: (database = "postgres") => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async createDatabase() {
      const name = `qe_faults_${randomBytes(4).toString("hex")}`;
      const c = new pg.Client({ connectionString: cluster.url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return cluster.url(name);
    },
    async start() {
      await pgTool("pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-o", opts, "-w", "-t", "30", "start"]);
      running = true;
    },
    async stop(mode = "fast") {
      await pgTool("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "30", "stop"]);
      running = false;
    },
    freeze: async () => {},
    thaw: async () => {},
  };
  let frozen: number[] = [];
  const clusterPids = async () => {
    const postmaster = Number((await readFile(path.join(data, "postmaster.pid"), "utf8")).split("\n")[0]);
    const { stdout } = await run("ps", ["-o", "pid=", "--ppid", String(postmaster)]);
    return [postmaster, ...stdout.split("\n").map((l) => Number(l.trim())).filter((n) => n > 0)];
  };
  cluster.freeze = async () => {
    frozen = await clusterPids();
    for (const pid of frozen) process.kill(pid, "SIGSTOP");
  };
  cluster.thaw = async () => {
    for (const pid of frozen) process.kill(pid, "SIGCONT");
    frozen = [];
  };
  await cluster.start();
  onCleanup(async () => {
    if (frozen.length) await cluster.thaw();
    if (running) await cluster.stop("immediate");
  });
  return cluster;
}

// ------------------------------------------------------------------------------------------------ Redis

export interface RedisServer {
  port: number;
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** Our own redis-server on a random port (the machine's Redis on 6379 is never touched). */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const redis: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const c = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
        stdio: "ignore",
      });
      child = c;
      await waitFor("redis-server", () => tcpOpen(port).then((ok) => (ok ? true : undefined)), 10_000);
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((resolve) => c.once("exit", resolve));
      c.kill("SIGKILL");
      await gone;
    },
  };
  await redis.start();
  onCleanup(() => redis.kill());
  return redis;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

// ----------------------------------------------------------------------------------------------- server

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface ServerProcess {
  port: number;
  pid: number;
  env: NodeJS.ProcessEnv;
  /** Parsed JSON log lines (stdout) so far. */
  logs: LogLine[];
  /** Non-JSON output (stderr), for diagnostics. */
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  alive(): boolean;
  kill(signal: NodeJS.Signals): void;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** The environment of one service instance: its port, its data dir, its database, its sealing key. */
export function serviceEnv(opts: { port: number; dataDir: string; databaseUrl?: string; sealingKeys: string; redisUrl?: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    USER: process.env.USER ?? "faults",
    NODE_ENV: "development",
    HOST: "127.0.0.1",
    PORT: String(opts.port),
    DATA_DIR: opts.dataDir,
    SEALING_KEYS: opts.sealingKeys,
    FACE_ENGINE: "off", // the face engine is not what these tests are about; it would only eat the shared cores
    LOG_LEVEL: "info",
  };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
  return env;
}

export function newSealingKeys(): string {
  return `kfaults:${randomBytes(32).toString("base64")}`;
}

/**
 * Starts `node --import tsx src/server.ts` and resolves once it logged "service ready". `umask`: started from a
 * shell that set this umask first (as an operator's shell might have).
 */
export async function startServer(env: NodeJS.ProcessEnv, readyTimeoutMs = 30_000, opts: { umask?: string } = {}): Promise<ServerProcess> {
  const args = ["--import", "tsx", "src/server.ts"];
  const child = opts.umask
    ? spawn("sh", ["-c", `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
    : spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        stderr.push(line);
      }
    }
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => {
      resolve({ code, signal, at: Date.now() });
      for (const w of waiters) w();
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  onCleanup(async () => {
    if (alive()) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  const server: ServerProcess = {
    port: Number(env.PORT),
    pid: child.pid!,
    env,
    logs,
    stderr,
    exited,
    alive,
    kill: (signal) => child.kill(signal),
    waitForLog(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs.find(pred);
          if (hit) {
            done();
            resolve(hit);
          } else if (!alive()) {
            done();
            reject(new Error(`server exited before the awaited log line; stderr: ${stderr.join("").slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no such log line within ${timeoutMs} ms; last lines: ${JSON.stringify(logs.slice(-5))}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
  await server.waitForLog((l) => l.msg === "service ready", readyTimeoutMs);
  return server;
}

/** Stops a server with SIGTERM and returns how it exited and how long it took. */
export async function stopServer(server: ServerProcess, boundMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = Date.now();
  server.kill("SIGTERM");
  const timer = sleep(boundMs).then(() => undefined);
  const exit = await Promise.race([server.exited, timer]);
  if (!exit) throw new Error(`server did not exit within ${boundMs} ms of SIGTERM`);
  return { code: exit.code, signal: exit.signal, ms: exit.at - t0 };
}

// ---------------------------------------------------------------------------------------------- the CLI

/**
 * The admin CLI (what `npm run --silent admin -- …` runs, without npm's own start-up) with the service's
 * environment; returns its JSON output.
 */
export async function admin(env: NodeJS.ProcessEnv, args: string[]): Promise<Record<string, unknown>> {
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "src/cli/admin.ts", ...args], { cwd: ROOT, env, timeout: 60_000 });
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`admin ${args.slice(0, 2).join(" ")} failed: ${e.stderr ?? e.message}`);
  }
}

export interface Tenant {
  orgId: string;
  key: string;
}

/** An org with the dukcapil capability, the given dukcapil limit and one key, made with the admin CLI. */
export async function createTenant(env: NodeJS.ProcessEnv, dukcapilPerMinute?: number): Promise<Tenant> {
  const org = await admin(env, ["org", "create", "--name", `Faults ${randomBytes(3).toString("hex")}`, "--dukcapil"]);
  const orgId = org.id as string;
  const [key] = await Promise.all([
    admin(env, ["key", "create", "--org", orgId, "--scopes", "verifications:view,customers:write,customers:view"]),
    dukcapilPerMinute ? admin(env, ["org", "set", "--org", orgId, "--limit", `identity.nik.dukcapil=${dukcapilPerMinute}`]) : undefined,
  ]);
  return { orgId, key: key.key as string };
}

// ------------------------------------------------------------------------------------------------- HTTP

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
  json<T = Record<string, unknown>>(): T;
}

/** One request on a fresh connection (no keep-alive, no pooling), bounded by `timeoutMs`. */
export function request(
  port: number,
  method: string,
  urlPath: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { connection: "close", ...opts.headers };
    if (opts.body !== undefined) headers["content-length"] = Buffer.byteLength(opts.body);
    const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode!, headers: res.headers, body, ms: performance.now() - t0, json: () => JSON.parse(body) });
      });
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 20_000, () => req.destroy(new Error(`request timed out after ${opts.timeoutMs ?? 20_000} ms`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

export function api(port: number, key: string) {
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  return {
    post: (urlPath: string, body: unknown, headers: Record<string, string> = {}, timeoutMs?: number) =>
      request(port, "POST", urlPath, { headers: { ...auth, ...headers }, body: JSON.stringify(body), timeoutMs }),
    async customer(): Promise<string> {
      const res = await request(port, "POST", "/api/customers", { headers: auth, body: JSON.stringify({ externalRef: `c-${randomBytes(4).toString("hex")}` }) });
      if (res.status !== 201) throw new Error(`customer create: ${res.status} ${res.body}`);
      return res.json<{ data: { id: string } }>().data.id;
    },
  };
}

export const INGEST = "/api/identity/nik/dukcapil";

export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<void> {
  await waitFor(what, async () => ((await probe()) ? true : undefined), timeoutMs, everyMs);
}
