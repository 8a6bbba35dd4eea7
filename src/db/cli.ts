// Offline replacement for the Prisma CLI's migrate commands (the native engine cannot be downloaded here).
//   deploy        = prisma migrate deploy        (DATABASE_URL, else the embedded database under DATA_DIR)
//   status        = prisma migrate status
//   new <name>    = prisma migrate dev --create-only --name <name>   (on a scratch in-memory database)
//   check         exit 1 when schema.prisma has changes no migration captures
import { ConfigError, loadDatabaseConfig } from "../config.js";
import { openDatabase, pgliteDir } from "./client.js";
import { Migrator } from "./migrator.js";
import { pgliteMigrationFactory, scratchPGlite } from "./pglite.js";
import { pgMigrationFactory } from "./pg.js";
import { withDataDirLock } from "../runtime/data-dir-lock.js";
import { createFilesPrivately, makeDataDirPrivate } from "../runtime/private-files.js";

const [cmd, name] = process.argv.slice(2);

async function main(): Promise<number> {
  if (cmd === "new" || cmd === "check") {
    // Creating or diffing migrations needs only a scratch database: a throwaway in-memory PGlite by default,
    // DEV_DATABASE_URL=<a scratch PostgreSQL database> to use a real server (needs CREATEDB for shadows).
    const scratch = process.env.DEV_DATABASE_URL ? undefined : await scratchPGlite();
    const adapter = scratch ? pgliteMigrationFactory(scratch) : pgMigrationFactory(process.env.DEV_DATABASE_URL!);
    // PRISMA_SCHEMA_PATH / PRISMA_MIGRATIONS_DIR: check or create against other files (the check's own test).
    const m = await Migrator.open({ adapter, schemaPath: process.env.PRISMA_SCHEMA_PATH, migrationsDir: process.env.PRISMA_MIGRATIONS_DIR });
    try {
      if (cmd === "new") {
        if (!name) throw new Error("usage: npm run db:new -- <migration_name>");
        const dir = await m.create(name);
        console.log(dir ? `created prisma/migrations/${dir}/migration.sql` : "no schema changes, nothing created");
        return 0;
      }
      const sql = await m.diffMigrationsToSchema();
      if (sql) {
        console.error(`schema.prisma and prisma/migrations disagree; run 'npm run db:new -- <name>':\n${sql}`);
        return 1;
      }
      console.log("migrations are in sync with schema.prisma");
      return 0;
    } finally {
      await m.close();
      await scratch?.close();
    }
  }
  if (cmd === "deploy" || cmd === "status") {
    createFilesPrivately(); // before anything touches the data directory (not for new/check: they write prisma/)
    const config = loadDatabaseConfig(); // only DATABASE_URL / DATA_DIR: no service secrets needed
    await makeDataDirPrivate(config.dataDir, { create: !config.databaseUrl });
    const run = async () => {
      const db = await openDatabase(
        config.databaseUrl ? { kind: "postgres", url: config.databaseUrl } : { kind: "pglite", dataDir: pgliteDir(config.dataDir) },
      );
      try {
        if (cmd === "deploy") {
          const applied = await db.migrate();
          console.log(applied.length ? `applied: ${applied.join(", ")}` : "no pending migrations");
        } else {
          const m = await Migrator.open({
            adapter: db.kind === "postgres" ? pgMigrationFactory(config.databaseUrl!) : pgliteMigrationFactory(db.pglite!),
          });
          try {
            console.log(JSON.stringify(await m.status(), null, 2));
          } finally {
            await m.close();
          }
        }
      } finally {
        await db.close();
      }
    };
    // The embedded database must never be opened by two processes: refuse while the server holds it.
    if (config.databaseUrl) await run();
    else await withDataDirLock(config.dataDir, "migrate", run);
    return 0;
  }
  console.error("usage: tsx src/db/cli.ts deploy | status | new <name> | check");
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) for (const p of err.problems) console.error(`config error: ${p}`);
    else console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
