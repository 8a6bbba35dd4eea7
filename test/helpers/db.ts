// A fresh, migrated database for one test file: PGlite restored from the run's dump, or a PostgreSQL
// database cloned from the run's template.
import { readFile } from "node:fs/promises";
import pg from "pg";
import { inject } from "vitest";
import { openDatabase, type Database, type TransactionLimits } from "../../src/db/client.js";

export type TestDbKind = "pglite" | "postgres";
export const testDbKind = (process.env.TEST_DB ?? "pglite") as TestDbKind;

let counter = 0;

export interface TestDatabase extends Database {
  /** The connection URL (PostgreSQL only). */
  url?: string;
}

/** Tests of the limits themselves use a smaller pool or shorter transaction limits than the service's. */
export interface TestDatabaseOptions {
  poolMax?: number;
  transactions?: TransactionLimits;
}

export async function openTestDatabase(opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
  if (testDbKind === "pglite") {
    const dump = await readFile(inject("pgliteDump"));
    return openDatabase({ kind: "pglite", dataDir: "memory://", loadDataDir: new Blob([dump]), transactions: opts.transactions });
  }
  const base = process.env.TEST_DATABASE_URL!;
  const template = inject("pgTemplate")!;
  const name = `qe_test_${process.pid}_${Date.now()}_${counter++}_${template.split("_").at(-1)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  const db = await openDatabase({ kind: "postgres", url: u.toString(), poolMax: opts.poolMax ?? 5, transactions: opts.transactions });
  return {
    ...db,
    url: u.toString(),
    async close() {
      await db.close();
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await a.end();
    },
  };
}
