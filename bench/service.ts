// What the HTTP benches share: a throwaway PostgreSQL database, and the real service as a separate process
// (built as the image runs it, or from source as `npm start` does) with bench/server-probe.mjs loaded, which
// answers its event-loop delay, CPU and memory over IPC.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import type { ProbeReport } from "./probe-report.js";

export const ROOT = path.resolve(import.meta.dirname, "..");
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

/**
 * A fresh database on the bench's PostgreSQL (or, with `reuse`, one an earlier run kept); `drop()` removes it,
 * unless it was reused or `keep` is set (then it says which database it left).
 */
export async function benchDatabase(prefix: string, { reuse, keep = false }: { reuse?: string; keep?: boolean } = {}): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = reuse ?? `qe_bench_${prefix}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await admin.connect();
  if (!reuse) await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BENCH_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (keep || reuse) console.error(`kept database ${name}`);
      else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/**
 * `built` (default) as the image's CMD does, node dist/src/server.js, built first (`npm run build`) so it is
 * the code checked out; `source` as `npm start` does (tsx in the process and in every face worker, ~40 MB of
 * RSS more in each).
 */
export type ServiceMode = "built" | "source";
export const SERVICE_MODE = (process.env.BENCH_SERVICE ?? "built") as ServiceMode;
const SERVICE_ARGS: Record<ServiceMode, string[]> = {
  source: ["--import", "tsx", "--import", "./bench/server-probe.mjs", "src/server.ts"],
  built: ["--enable-source-maps", "--import", "./bench/server-probe.mjs", "dist/src/server.js"],
};

export interface BenchService {
  base: string;
  process: ChildProcess;
  /** The service's own figures; `probe:reset` restarts its event-loop histogram and CPU clock. */
  probe(message?: "probe:report" | "probe:reset" | "probe:gc"): Promise<ProbeReport>;
  stop(): Promise<void>;
}

export async function startBenchService(opts: { databaseUrl: string; sealingKeys: string; env?: Record<string, string>; mode?: ServiceMode; nodeFlags?: string[] }): Promise<BenchService> {
  const mode = opts.mode ?? SERVICE_MODE;
  if (!SERVICE_ARGS[mode]) throw new Error(`BENCH_SERVICE must be source or built, not ${mode}`);
  if (mode === "built") {
    await promisify(execFile)("npm", ["run", "--silent", "build"], { cwd: ROOT });
    if (!existsSync(path.join(ROOT, "dist/src/server.js"))) throw new Error("npm run build made no dist/src/server.js");
  }
  const port = await freePort();
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...SERVICE_ARGS[mode]], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: "production",
      DATABASE_URL: opts.databaseUrl,
      SEALING_KEYS: opts.sealingKeys,
      PORT: String(port),
      LOG_LEVEL: "warn",
      // as `npm start` and the image run it, unless the environment says otherwise
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? "2",
      ...opts.env,
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) break;
    if (child.exitCode !== null || i > 600) throw new Error("the service did not become ready");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    process: child,
    probe: (message = "probe:report") =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the service's probe did not answer")), 5_000);
        child.once("message", (m) => {
          clearTimeout(timer);
          resolve(m as ProbeReport);
        });
        child.send(message);
      }),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
