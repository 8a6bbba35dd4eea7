import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";

/** Opens PGlite on disk (or "memory://"). PGlite creates only the last path segment: make the parents. */
export async function openPGlite(dataDir: string, loadDataDir?: Blob): Promise<PGlite> {
  if (!dataDir.includes("://")) await mkdir(dataDir, { recursive: true });
  return PGlite.create({ dataDir, ...(loadDataDir ? { loadDataDir } : {}) });
}

// initdb inside PGlite costs 1-2.5 s; restoring a dump of a pristine cluster costs ~0.3 s.
let pristine: Promise<Blob> | undefined;
export async function scratchPGlite(): Promise<PGlite> {
  if (!pristine) {
    const first = await PGlite.create({ dataDir: "memory://" });
    pristine = first.dumpDataDir("none");
    await pristine;
    return first;
  }
  return PGlite.create({ dataDir: "memory://", loadDataDir: await pristine });
}

/**
 * Migration adapter for PGlite. The stock adapter's shadow database is a PGlite it never closes (40 MB and
 * live timers): use a scratch instance closed on dispose.
 */
export function pgliteMigrationFactory(pg: PGlite): SqlMigrationAwareDriverAdapterFactory {
  const base = new PrismaPGlite(pg);
  return {
    provider: base.provider,
    adapterName: base.adapterName,
    connect: () => base.connect(),
    connectToShadowDb: async (): Promise<SqlDriverAdapter> => {
      const shadow = await scratchPGlite();
      const adapter = await new PrismaPGlite(shadow).connect();
      adapter.dispose = () => shadow.close();
      return adapter;
    },
  };
}
