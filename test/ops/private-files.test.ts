// Everything the service creates under DATA_DIR is private to its user whatever the umask it was started with:
// directories 0700, files (and the admin socket) 0600. Real processes started from a shell with `umask 000`:
// the server (its embedded PostgreSQL cluster, WAL included, the lock, the socket, the development sealing
// key), the admin CLI and the db CLI on a data directory of their own, and a data directory loosened by a
// careless copy, which the server tightens at start. Embedded database only (PostgreSQL keeps its own files).
import { execFile } from "node:child_process";
import { chmod, lstat, readdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { api, cleanupAll, createTenant, freePort, INGEST, newSealingKeys, request, ROOT, serviceEnv, startServer, stopServer, tempDir } from "../faults/harness.js";
import { testDbKind } from "../helpers/db.js";
import { b64, jpeg } from "../helpers/images.js";

const run = promisify(execFile);
afterAll(() => cleanupAll(), 60_000);

interface Entry {
  path: string;
  kind: "dir" | "file" | "socket" | "other";
  mode: number;
}

async function walk(dir: string): Promise<Entry[]> {
  const st = await lstat(dir);
  const kind = st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSocket() ? "socket" : "other";
  const here: Entry = { path: dir, kind, mode: st.mode & 0o777 };
  if (kind !== "dir") return [here];
  const children = await Promise.all((await readdir(dir)).map((name) => walk(path.join(dir, name))));
  return [here, ...children.flat()];
}

/** Every entry owner-only; returns the entries for the figures. */
async function expectPrivate(dataDir: string, when: string): Promise<Entry[]> {
  const entries = await walk(dataDir);
  const loose = entries.filter((e) => e.mode !== (e.kind === "dir" ? 0o700 : 0o600)).map((e) => `${e.mode.toString(8)} ${e.kind} ${path.relative(dataDir, e.path)}`);
  expect(loose, when).toEqual([]);
  expect(entries.filter((e) => e.kind === "other"), when).toEqual([]);
  return entries;
}

/** A tool run from a shell with `umask 000`. */
function underUmask000(env: NodeJS.ProcessEnv, script: string, args: string[]) {
  return run("sh", ["-c", 'umask 000 && exec "$0" "$@"', process.execPath, "--import", "tsx", script, ...args], { cwd: ROOT, env, timeout: 60_000 });
}

describe.runIf(testDbKind === "pglite")("DATA_DIR is private whatever the umask", () => {
  it("the server under umask 000: every directory 0700, every file and the socket 0600, while it runs and after it stops", async () => {
    const dataDir = await tempDir("private");
    await chmod(dataDir, 0o755); // as a plain mkdir under a 022 umask would leave it
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...serviceEnv({ port, dataDir, sealingKeys: newSealingKeys() }) };
    delete env.SEALING_KEYS; // the development key file is written into DATA_DIR too
    const server = await startServer(env, 60_000, { umask: "000" });
    expect(server.logs.some((l) => l.msg === "the data directory had entries other users could read: made them owner-only")).toBe(true);
    const tenant = await createTenant(env);
    const bank = api(port, tenant.key);
    const customerId = await bank.customer();
    const verdict = await bank.post(INGEST, { customerId, valid: true, photo: b64(await jpeg()), raw: { nik: "3171" } });
    expect(verdict.status, verdict.body).toBe(201);

    const running = await expectPrivate(dataDir, "while the server runs");
    const names = running.map((e) => path.relative(dataDir, e.path));
    expect(names).toEqual(expect.arrayContaining(["pglite", "pglite/pg_wal", "embedded-db.lock", "admin.sock", "sealing-keys.dev"]));
    expect(running.filter((e) => e.kind === "file").length).toBeGreaterThan(900); // the whole cluster, not a sample

    // a key in the path is refused and is in no log line of the real server
    for (const p of [`/${tenant.key}`, `/api/identity/kyc/${tenant.key}`, `/api/identity/kyc/${tenant.key.replaceAll("_", "%5F")}`]) {
      expect((await request(port, "GET", p)).status).toBe(400);
    }
    expect((await stopServer(server)).code).toBe(0);
    expect(JSON.stringify(server.logs)).not.toContain(tenant.key.slice(-32));
    const stopped = await expectPrivate(dataDir, "after the server stopped");
    console.log(`[private-files] ${stopped.filter((e) => e.kind === "file").length} files and ${stopped.filter((e) => e.kind === "dir").length} directories under DATA_DIR, all owner-only`);

    // a careless copy or restore loosens everything: the next start tightens it again
    for (const e of stopped) await chmod(e.path, e.kind === "dir" ? 0o777 : 0o666);
    const again = await startServer(env, 60_000, { umask: "000" });
    await expectPrivate(dataDir, "after a start on a loosened data directory");
    expect(again.logs.find((l) => l.msg === "the data directory had entries other users could read: made them owner-only")).toMatchObject({ modesChanged: stopped.length });
    expect((await request(port, "GET", "/readyz")).status).toBe(200);
    expect((await stopServer(again)).code).toBe(0);
  }, 240_000);

  it("the db CLI and the admin CLI under umask 000, each on a fresh data directory", async () => {
    const forDb = await tempDir("private-db");
    const env = { ...serviceEnv({ port: await freePort(), dataDir: forDb, sealingKeys: newSealingKeys() }) };
    await underUmask000(env, "src/db/cli.ts", ["deploy"]);
    await expectPrivate(forDb, "after db deploy");

    const forAdmin = await tempDir("private-admin");
    const adminEnv: NodeJS.ProcessEnv = { ...env, DATA_DIR: forAdmin };
    delete adminEnv.SEALING_KEYS;
    const { stdout } = await underUmask000(adminEnv, "src/cli/admin.ts", ["org", "create", "--name", "Umask Bank"]);
    expect(JSON.parse(stdout)).toMatchObject({ name: "Umask Bank" });
    const entries = await expectPrivate(forAdmin, "after admin org create");
    expect(entries.map((e) => path.relative(forAdmin, e.path))).toEqual(expect.arrayContaining(["pglite", "sealing-keys.dev"]));
  }, 180_000);
});
