// The embedded database's lock across PID namespaces (containers sharing one volume): a pid from another
// namespace proves nothing, so the holder's heartbeat decides; within one namespace the pid does.
import { readlinkSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquireDataDirLock, DataDirLockedError, lockHolder, STALE_MS } from "../../src/runtime/data-dir-lock.js";

const dirs: string[] = [];
async function dataDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), "qe-lock-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const lockFile = (d: string) => path.join(d, "embedded-db.lock");
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
/** A lock as another container's server leaves it: pid 1 of a namespace that is not ours. */
const foreign = (heartbeatAt: string) =>
  JSON.stringify({ pid: 1, role: "server", startedAt: ago(60_000), token: "foreign", pidNamespace: "pid:[1]", heartbeatAt, adminSocket: "/data/admin.sock" });

describe("data-dir lock", () => {
  it("another namespace's server with a fresh heartbeat holds the lock (its pid 1 is not ours to judge)", async () => {
    const d = await dataDir();
    await writeFile(lockFile(d), foreign(ago(1_000)));
    expect(await lockHolder(d)).toMatchObject({ pid: 1, role: "server", adminSocket: "/data/admin.sock" });
    await expect(acquireDataDirLock(d, "admin")).rejects.toBeInstanceOf(DataDirLockedError);
    expect(JSON.parse(await readFile(lockFile(d), "utf8")).token).toBe("foreign"); // untouched
  });

  it("its lock is taken over once the heartbeat is older than STALE_MS (a crashed container)", async () => {
    const d = await dataDir();
    await writeFile(lockFile(d), foreign(ago(STALE_MS + 1_000)));
    expect(await lockHolder(d)).toBeUndefined();
    const lock = await acquireDataDirLock(d, "server");
    expect(JSON.parse(await readFile(lockFile(d), "utf8"))).toMatchObject({ pid: process.pid, role: "server" });
    await lock.release();
  });

  it("in our own namespace a dead pid frees the lock at once, whatever its heartbeat", async () => {
    const d = await dataDir();
    const ns = { pidNamespace: readlinkSync("/proc/self/ns/pid") };
    await writeFile(lockFile(d), JSON.stringify({ pid: 2 ** 22 + 7, role: "server", startedAt: ago(1_000), token: "dead", pidNamespace: ns.pidNamespace, heartbeatAt: ago(0) }));
    expect(await lockHolder(d)).toBeUndefined();
    const lock = await acquireDataDirLock(d, "migrate");
    await lock.release();
  });

  it("the holder's heartbeat keeps the lock fresh, release removes only its own lock, and a second taker waits", async () => {
    const d = await dataDir();
    const lock = await acquireDataDirLock(d, "server");
    const first = JSON.parse(await readFile(lockFile(d), "utf8"));
    await lock.update({ adminSocket: path.join(d, "admin.sock") });
    const second = JSON.parse(await readFile(lockFile(d), "utf8"));
    expect(second).toMatchObject({ token: first.token, adminSocket: path.join(d, "admin.sock") });
    expect(Date.parse(second.heartbeatAt)).toBeGreaterThanOrEqual(Date.parse(first.heartbeatAt));
    await expect(acquireDataDirLock(d, "admin", 300)).rejects.toBeInstanceOf(DataDirLockedError);
    await lock.release();
    await expect(readFile(lockFile(d))).rejects.toThrow();
    // a release after someone else took the lock leaves theirs alone
    const mine = await acquireDataDirLock(d, "admin");
    await writeFile(lockFile(d), foreign(ago(0)));
    await mine.release();
    expect(JSON.parse(await readFile(lockFile(d), "utf8")).token).toBe("foreign");
  });

  it("a half-written lock file is busy while recent, not a free lock", async () => {
    const d = await dataDir();
    await writeFile(lockFile(d), '{"pid": 1, "ro');
    await expect(acquireDataDirLock(d, "admin")).rejects.toBeInstanceOf(DataDirLockedError);
  });
});
