// The embedded PGlite database must never be opened by two processes at once (that corrupts it). Whoever
// opens it (the server, or the admin CLI / migrator when no server runs) first holds this lock file.
// The server records its admin socket in the lock, so the admin CLI can hand its command to the process that
// owns the database instead of opening it.
//
// When is a lock left by a dead process? A process id only means something inside the PID namespace that
// issued it: two containers sharing one volume each see their own pid 1. So the holder records its PID
// namespace and refreshes a heartbeat in the lock every HEARTBEAT_MS:
// - same PID namespace (same host or same container): the pid is checked, so a crashed holder's lock is taken
//   over at once;
// - another namespace (another container on the volume): the holder is alive while its heartbeat is fresher
//   than STALE_MS. A container restarted after a crash therefore waits up to STALE_MS for the lock.
// The lock file is created whole (written aside, then hard-linked into place, which fails if it exists) and
// rewritten by rename, so a reader never sees half a lock; it is released only by the holder that took it.
import { randomBytes } from "node:crypto";
import { readlinkSync } from "node:fs";
import { link, mkdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type LockRole = "server" | "admin" | "migrate";

export interface LockHolder {
  pid: number;
  role: LockRole;
  adminSocket?: string;
  startedAt: string;
  /** Identifies this holding (release checks it, not the pid). */
  token?: string;
  /** The holder's PID namespace (Linux), within which `pid` is meaningful. */
  pidNamespace?: string;
  heartbeatAt?: string;
}

export class DataDirLockedError extends Error {
  constructor(readonly holder: LockHolder) {
    super(`the embedded database is in use by another process (pid ${holder.pid}, ${holder.role})`);
  }
}

export const HEARTBEAT_MS = 2_000;
export const STALE_MS = 20_000;

const lockPath = (dataDir: string) => path.join(dataDir, "embedded-db.lock");

function ownPidNamespace(): string | undefined {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return undefined; // not Linux: heartbeats alone decide
  }
}
const PID_NAMESPACE = ownPidNamespace();

/** The locks this process holds now (by token). */
const held = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

type Reading = { holder?: LockHolder; text: string; live: boolean };

/** The lock as it is now: undefined when there is none. */
async function readLock(file: string): Promise<Reading | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let holder: LockHolder | undefined;
  try {
    const parsed = JSON.parse(text) as LockHolder;
    if (typeof parsed.pid === "number") holder = parsed;
  } catch {
    // unreadable (written by hand, or a crash in an older version's write): judged by its age below
  }
  if (!holder) {
    const mtime = (await stat(file).catch(() => undefined))?.mtimeMs ?? 0;
    return { text, live: Date.now() - mtime < STALE_MS };
  }
  let live: boolean;
  if (holder.pid === process.pid && (holder.pidNamespace === undefined || holder.pidNamespace === PID_NAMESPACE)) {
    // Our own pid: a lock this process holds, or one left by an earlier life with the same pid (pid 1 in a
    // restarted container).
    live = holder.token !== undefined && held.has(holder.token);
  } else if (holder.pidNamespace !== undefined && holder.pidNamespace === PID_NAMESPACE) live = pidAlive(holder.pid);
  else if (holder.heartbeatAt !== undefined) live = Date.now() - Date.parse(holder.heartbeatAt) < STALE_MS;
  else live = pidAlive(holder.pid); // a lock from before heartbeats
  return { holder, text, live };
}

/** The live process holding the lock, if any. */
export async function lockHolder(dataDir: string): Promise<LockHolder | undefined> {
  const r = await readLock(lockPath(dataDir));
  return r?.live ? r.holder : undefined;
}

export interface DataDirLock {
  update(extra: Partial<Pick<LockHolder, "adminSocket">>): Promise<void>;
  release(): Promise<void>;
}

/** Writes `holder` as the lock file only if there is none (atomic: the file appears complete or not at all). */
async function createLock(file: string, holder: LockHolder): Promise<boolean> {
  const aside = `${file}.${holder.token}`;
  await writeFile(aside, JSON.stringify(holder), { mode: 0o600 });
  try {
    await link(aside, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(aside).catch(() => {});
  }
}

/** Takes the lock, waiting up to `waitMs` for a live holder to let go. */
export async function acquireDataDirLock(dataDir: string, role: LockRole, waitMs = 0): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const file = lockPath(dataDir);
  const deadline = Date.now() + waitMs;
  const now = () => new Date().toISOString();
  let me: LockHolder = { pid: process.pid, role, startedAt: now(), token: randomBytes(12).toString("hex"), pidNamespace: PID_NAMESPACE, heartbeatAt: now() };
  for (;;) {
    me.heartbeatAt = now();
    if (await createLock(file, me)) {
      held.add(me.token!);
      break;
    }
    const current = await readLock(file);
    if (current && !current.live) {
      // Stale. Remove it only if it is still the very lock judged stale (another process may have replaced it).
      const again = await readFile(file, "utf8").catch(() => undefined);
      if (again === current.text) await unlink(file).catch(() => {});
      continue;
    }
    if (!current) continue; // released meanwhile
    if (Date.now() >= deadline) throw new DataDirLockedError(current.holder ?? { pid: 0, role: "server", startedAt: "unknown" });
    await sleep(100);
  }

  let writing = Promise.resolve();
  let lost = false;
  const rewrite = () =>
    (writing = writing.then(async () => {
      if (lost) return;
      // Never overwrite someone else's lock: if another process judged ours stale (this one stalled for longer
      // than STALE_MS), say so loudly instead of fighting over the file.
      const current = await readLock(file);
      if (current?.holder?.token !== me.token) {
        lost = true;
        process.emitWarning(`the embedded-database lock in ${dataDir} was taken over by another process`, { code: "DATA_DIR_LOCK_LOST" });
        return;
      }
      me = { ...me, heartbeatAt: now() };
      const aside = `${file}.${me.token}`;
      await writeFile(aside, JSON.stringify(me), { mode: 0o600 });
      await rename(aside, file); // atomic replace: readers see the old lock or the new one
    }));
  const heartbeat = setInterval(() => {
    rewrite().catch(() => {}); // a missed beat is retried on the next one; STALE_MS allows many
  }, HEARTBEAT_MS);
  heartbeat.unref();

  return {
    async update(extra) {
      me = { ...me, ...extra };
      await rewrite();
    },
    async release() {
      clearInterval(heartbeat);
      held.delete(me.token!);
      await writing.catch(() => {});
      const current = await readLock(file).catch(() => undefined);
      if (current?.holder?.token === me.token) await unlink(file).catch(() => {});
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
