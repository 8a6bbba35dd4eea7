// The one place that knows the two database modes: PostgreSQL (production, replicas) and the embedded,
// in-process PGlite under the data directory (the default: nothing else to install).
import path from "node:path";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaClient } from "../generated/prisma/client.js";
import { openPGlite, pgliteMigrationFactory, ReliablePrismaPGlite } from "./pglite.js";
import { pgMigrationFactory } from "./pg.js";
import { Migrator } from "./migrator.js";

export type DatabaseConfig =
  | { kind: "postgres"; url: string; poolMax?: number }
  | { kind: "pglite"; dataDir: string; loadDataDir?: Blob };

export interface Database {
  kind: DatabaseConfig["kind"];
  prisma: PrismaClient;
  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
  /** The PGlite instance in embedded mode (tests use it to dump a migrated cluster). */
  pglite?: PGlite;
  /** PostgreSQL only: the connection pool's state (metrics). */
  poolStats?: () => { total: number; idle: number; waiting: number };
}

// PGlite serves one connection, so interactive transactions queue behind each other; Prisma's default
// maxWait (2 s) would fail waiters with P2028 under load.
const PGLITE_TX = { maxWait: 15_000, timeout: 15_000 };
// PostgreSQL: waits are bounded so a stalled database turns into a prompt 503, not a hung request.
const PG_TX = { maxWait: 5_000, timeout: 10_000 };

export async function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  let prisma: PrismaClient;
  let migrationAdapter: SqlMigrationAwareDriverAdapterFactory;
  let close: () => Promise<void>;
  let pglite: PGlite | undefined;
  let poolStats: Database["poolStats"];
  if (cfg.kind === "postgres") {
    // Our own pool (handed to the adapter, which ends it on disconnect) so its state can be observed.
    const pool = new pg.Pool({
      connectionString: cfg.url,
      max: cfg.poolMax ?? 10,
      connectionTimeoutMillis: 3_000,
      // A database that stops answering (a partition, a frozen host) must not hang requests: every query
      // gets an answer or an error within 5 s (a 503), whatever the TCP connection believes.
      query_timeout: 5_000,
      idleTimeoutMillis: 30_000,
    });
    poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
    const adapter = new PrismaPg(pool, { disposeExternalPool: true });
    prisma = new PrismaClient({ adapter, transactionOptions: PG_TX });
    migrationAdapter = pgMigrationFactory(cfg.url);
    close = () => prisma.$disconnect();
  } else {
    const pg = await openPGlite(cfg.dataDir, cfg.loadDataDir);
    pglite = pg;
    prisma = new PrismaClient({ adapter: new ReliablePrismaPGlite(pg), transactionOptions: PGLITE_TX });
    migrationAdapter = pgliteMigrationFactory(pg);
    close = async () => {
      await prisma.$disconnect();
      await pg.close();
    };
  }
  return {
    kind: cfg.kind,
    prisma,
    pglite,
    poolStats,
    close,
    async migrate() {
      const m = await Migrator.open({ adapter: migrationAdapter });
      try {
        return await m.deploy();
      } finally {
        await m.close();
      }
    },
  };
}

/** Where the embedded database lives inside the data directory. */
export function pgliteDir(dataDir: string): string {
  return path.join(dataDir, "pglite");
}
