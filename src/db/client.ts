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

/** Interactive transactions: how long one may wait to start, and how long it may run (Prisma's maxWait / timeout). */
export interface TransactionLimits {
  maxWait: number;
  timeout: number;
}

export type DatabaseConfig =
  | { kind: "postgres"; url: string; poolMax?: number; transactions?: TransactionLimits }
  | { kind: "pglite"; dataDir: string; loadDataDir?: Blob; transactions?: TransactionLimits };

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

// PGlite serves one connection, so interactive transactions queue behind each other (a verdict's takes a few
// ms, so 15 s is a queue of thousands); Prisma's default maxWait (2 s) failed waiters with P2028 under load.
export const PGLITE_TX: TransactionLimits = { maxWait: 15_000, timeout: 15_000 };

// PostgreSQL: every wait is bounded, so a stalled or overloaded database is a prompt 503, never a hung request:
//   connect: 3 s for a connection from the pool (a new one, or a turn when all are busy);
//   statement: 4 s, enforced by PostgreSQL itself (statement_timeout: it cancels the statement and releases its
//     locks; the connection stays usable), and 5 s on our side for a server that never answers (query_timeout);
//   transaction: 6 s to start (Prisma's maxWait: the pool's 3 s and a BEGIN, with room for a slow one under load:
//     at 5 s, equal to the statement bound, a BEGIN behind a nearly full wait for a connection was cut short with
//     P2028), 10 s to run; PostgreSQL ends a session idle in a transaction for 15 s (a client that stopped
//     mid-transaction cannot hold its row locks longer).
// A frozen server (a partition) thus answers every request within ~6 s. Pool size (DATABASE_POOL_MAX, default
// 10): one connection per transaction in flight plus the short queries around it; bench:ingest's 8 connections
// never wait for one.
const PG_POOL = {
  connectionTimeoutMillis: 3_000,
  statement_timeout: 4_000,
  query_timeout: 5_000,
  idle_in_transaction_session_timeout: 15_000,
  idleTimeoutMillis: 30_000,
};
export const PG_TX: TransactionLimits = { maxWait: 6_000, timeout: 10_000 };

export async function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  let prisma: PrismaClient;
  let migrationAdapter: SqlMigrationAwareDriverAdapterFactory;
  let close: () => Promise<void>;
  let pglite: PGlite | undefined;
  let poolStats: Database["poolStats"];
  if (cfg.kind === "postgres") {
    // Our own pool (handed to the adapter, which ends it on disconnect) so its state can be observed.
    const pool = new pg.Pool({ connectionString: cfg.url, max: cfg.poolMax ?? 10, ...PG_POOL });
    poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
    const adapter = new PrismaPg(pool, { disposeExternalPool: true });
    prisma = new PrismaClient({ adapter, transactionOptions: cfg.transactions ?? PG_TX });
    migrationAdapter = pgMigrationFactory(cfg.url);
    close = () => prisma.$disconnect();
  } else {
    const pg = await openPGlite(cfg.dataDir, cfg.loadDataDir);
    pglite = pg;
    prisma = new PrismaClient({ adapter: new ReliablePrismaPGlite(pg), transactionOptions: cfg.transactions ?? PGLITE_TX });
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
