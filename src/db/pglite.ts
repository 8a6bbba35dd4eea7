import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { makeDataDirPrivate, PRIVATE_DIR_MODE } from "../runtime/private-files.js";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";

/**
 * The stock adapter (pglite-prisma-adapter 0.7.2) loses errors raised by COMMIT itself (a deferred
 * constraint, a deferred trigger): its transaction promise ends in a `.catch` that rejects an
 * already-settled promise, so `commit()` resolves and the caller reports success for a transaction that
 * rolled back. It also fires ROLLBACK without awaiting it, so a COMMIT could follow it. This factory
 * keeps the adapter but gives each transaction a commit/rollback that await PGlite's own outcome.
 */
export class ReliablePrismaPGlite extends PrismaPGlite {
  override async connect(): Promise<SqlDriverAdapter> {
    const adapter = (await super.connect()) as SqlDriverAdapter & AdapterInternals;
    if (typeof adapter.startTransactionInner !== "function" || typeof adapter.onError !== "function") {
      // The internals this relies on moved (an adapter upgrade): fail at start-up, never lose errors silently.
      throw new Error("pglite-prisma-adapter changed its internals: review ReliablePrismaPGlite (src/db/pglite.ts)");
    }
    const open = adapter.startTransactionInner.bind(adapter);
    adapter.startTransactionInner = async (conn, options) => {
      let outcome: Promise<unknown> | undefined;
      // The stock code calls conn.transaction() once and swallows its result: keep the promise it gets.
      const watched = { transaction: (fn: (tx: unknown) => Promise<unknown>) => (outcome = conn.transaction(fn)) };
      const txn = await open(watched, options);
      if (!outcome) throw new Error("pglite-prisma-adapter changed its internals: review ReliablePrismaPGlite (src/db/pglite.ts)");
      const settled = outcome;
      txn.commit = async () => {
        txn.txDeferred.resolve();
        try {
          await settled;
        } catch (e) {
          adapter.onError(e); // DatabaseError → DriverAdapterError (Prisma maps it); anything else rethrown
        }
      };
      txn.rollback = async () => {
        if (!txn.client.closed) await txn.client.rollback();
        txn.txDeferred.resolve();
        await settled.catch(() => {});
      };
      return txn;
    };
    return adapter;
  }
}

/** The private shape of the stock adapter that ReliablePrismaPGlite relies on (pinned version). */
interface AdapterTransaction {
  commit(): Promise<void>;
  rollback(): Promise<void>;
  txDeferred: { resolve(): void };
  client: { rollback(): Promise<void>; readonly closed: boolean };
}
interface AdapterInternals {
  startTransactionInner(conn: { transaction(fn: (tx: unknown) => Promise<unknown>): Promise<unknown> }, options: unknown): Promise<AdapterTransaction>;
  onError(e: unknown): never;
}

/**
 * Opens PGlite on disk (or "memory://"). PGlite creates only the last path segment: make the parents.
 * PGlite's initdb sets its files' modes itself (0666, the umask notwithstanding), and its backend chmods a few it
 * rewrites: on disk, the cluster is made owner-only once it is open, and again when it closes.
 */
export async function openPGlite(dataDir: string, loadDataDir?: Blob): Promise<PGlite> {
  if (dataDir.includes("://")) return PGlite.create({ dataDir, ...(loadDataDir ? { loadDataDir } : {}) });
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const pg = await PGlite.create({ dataDir, ...(loadDataDir ? { loadDataDir } : {}) });
  await makeDataDirPrivate(dataDir, { create: false });
  const close = pg.close.bind(pg);
  pg.close = async () => {
    await close();
    await makeDataDirPrivate(dataDir, { create: false });
  };
  return pg;
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
  const base = new ReliablePrismaPGlite(pg);
  return {
    provider: base.provider,
    adapterName: base.adapterName,
    connect: () => base.connect(),
    connectToShadowDb: async (): Promise<SqlDriverAdapter> => {
      const shadow = await scratchPGlite();
      const adapter = await new ReliablePrismaPGlite(shadow).connect();
      adapter.dispose = () => shadow.close();
      return adapter;
    },
  };
}
