// Everything under the data directory is private to the service's user, whatever the umask it was started
// with: the embedded PostgreSQL cluster (WAL included), the lock, the admin socket, the development sealing key.
// PGlite creates its files with the process umask applied (0666 & ~umask), so the umask is the root fix; a
// data directory made under a looser umask (or copied in by a backup restore) is tightened at start.
import { lstat, mkdir, readdir, chmod } from "node:fs/promises";
import path from "node:path";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Sets this process's umask so every file it creates is owner-only. Call first thing in an entry point. */
export function createFilesPrivately(): void {
  process.umask(0o077);
}

/**
 * Makes what is in the data directory owner-only: directories 0700, files 0600 (with `create`, makes the
 * directory first; without, a missing one is left missing). Only entries this user owns are touched, symbolic
 * links are not followed, and a data directory that is not ours (a mount point owned by someone else) is left
 * as it is. Returns how many modes it changed.
 */
export async function makeDataDirPrivate(dataDir: string, { create }: { create: boolean }): Promise<number> {
  if (create) await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const uid = process.getuid?.();
  let changed = 0;
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p).catch(() => undefined); // gone meanwhile: nothing to tighten
    if (!st || (uid !== undefined && st.uid !== uid)) return;
    if (st.isDirectory()) {
      if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) {
        await chmod(p, PRIVATE_DIR_MODE);
        changed++;
      }
      for (const name of await readdir(p).catch(() => [])) await visit(path.join(p, name));
    } else if (st.isFile() && (st.mode & 0o777) !== PRIVATE_FILE_MODE) {
      await chmod(p, PRIVATE_FILE_MODE);
      changed++;
    }
  };
  await visit(path.resolve(dataDir));
  return changed;
}
