// The embedded PGlite database must never be opened by two processes at once (that corrupts it). Whoever
// opens it (the server, or the admin CLI / migrator when no server runs) first holds this lock file.
// A lock left by a dead process is taken over. The server records its admin socket in the lock, so the
// admin CLI can hand its command to the process that owns the database instead of opening it.
import { mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type LockRole = "server" | "admin" | "migrate";

export interface LockHolder {
  pid: number;
  role: LockRole;
  adminSocket?: string;
  startedAt: string;
}

export class DataDirLockedError extends Error {
  constructor(readonly holder: LockHolder) {
    super(`the embedded database is in use by another process (pid ${holder.pid}, ${holder.role})`);
  }
}

const lockPath = (dataDir: string) => path.join(dataDir, "embedded-db.lock");

function alive(pid: number): boolean {
  if (pid === process.pid) return false; // a lock with our own pid was left by an earlier life (pid 1 in a container)
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The live process holding the lock, if any. */
export async function lockHolder(dataDir: string): Promise<LockHolder | undefined> {
  try {
    const holder = JSON.parse(await readFile(lockPath(dataDir), "utf8")) as LockHolder;
    return typeof holder.pid === "number" && alive(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

export interface DataDirLock {
  update(extra: Partial<Pick<LockHolder, "adminSocket">>): Promise<void>;
  release(): Promise<void>;
}

/** Takes the lock, waiting up to `waitMs` for a live holder to let go. */
export async function acquireDataDirLock(dataDir: string, role: LockRole, waitMs = 0): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const file = lockPath(dataDir);
  const deadline = Date.now() + waitMs;
  let me: LockHolder = { pid: process.pid, role, startedAt: new Date().toISOString() };
  for (;;) {
    try {
      await writeFile(file, JSON.stringify(me), { flag: "wx", mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = await lockHolder(dataDir);
    if (!holder) {
      await unlink(file).catch(() => {}); // stale: its process is gone
      continue;
    }
    if (Date.now() >= deadline) throw new DataDirLockedError(holder);
    await sleep(100);
  }
  return {
    async update(extra) {
      me = { ...me, ...extra };
      await writeFile(file, JSON.stringify(me), { mode: 0o600 });
    },
    async release() {
      const current = await readFile(file, "utf8").catch(() => "");
      if (current && (JSON.parse(current) as LockHolder).pid === process.pid) await unlink(file).catch(() => {});
    },
  };
}

export async function withDataDirLock<T>(dataDir: string, role: LockRole, fn: () => Promise<T>, waitMs = 0): Promise<T> {
  const lock = await acquireDataDirLock(dataDir, role, waitMs);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
