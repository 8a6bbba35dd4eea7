// Offline Prisma Migrate. The Prisma CLI needs a native schema-engine binary that cannot be downloaded on
// these machines, so migrations run on @prisma/schema-engine-wasm (the same engine commit as prisma 7.10.0)
// driven through a driver adapter. Reads and writes Prisma's standard prisma/migrations layout and the
// standard `_prisma_migrations` table, so the native CLI keeps working wherever it is available.
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import * as bg from "@prisma/schema-engine-wasm/schema_engine_bg";
import type { MigrationList, SchemaEngine, SchemaFilter } from "@prisma/schema-engine-wasm/schema_engine_bg";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";

const LOCKFILE = "migration_lock.toml";
const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };
/** The project root (where package.json and prisma/ live): src/db/ when run by tsx, dist/src/db/ when built. */
function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
const ROOT = projectRoot(import.meta.dirname);
export const SCHEMA_PATH = path.join(ROOT, "prisma/schema.prisma");
export const MIGRATIONS_DIR = path.join(ROOT, "prisma/migrations");

let wasmReady: Promise<void> | undefined;

/** The package's entry imports `*.wasm`, which Node 20 cannot load: instantiate the module by hand. */
function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { message: string; set_message(m: string): void } };
    g.PRISMA_WASM_PANIC_REGISTRY ??= {
      message: "",
      set_message(m) {
        this.message = m;
      },
    };
    const require = createRequire(import.meta.url);
    const bgJs = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const bytes = await readFile(bgJs.replace(/\.js$/, ".wasm"));
    // The engine arms 10 s timers it never clears; unref them so a finished command exits at once.
    const imports: Record<string, unknown> = { ...bg };
    for (const k of Object.keys(imports).filter((k) => k.startsWith("__wbg_setTimeout_"))) {
      imports[k] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref();
    }
    const { instance } = await WebAssembly.instantiate(bytes, {
      "./schema_engine_bg.js": imports as WebAssembly.ModuleImports,
    });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  return wasmReady;
}

/**
 * Both adapters run migration scripts badly: adapter-pg splits on ";" and runs the pieces outside a
 * transaction, the PGlite adapter does not await. Send each script as ONE simple query, like the native
 * engine, so a migration is atomic and its failure is reported.
 */
function wholeScriptExecution(
  factory: SqlMigrationAwareDriverAdapterFactory,
  opened: SqlDriverAdapter[],
): SqlMigrationAwareDriverAdapterFactory {
  const patch = (a: SqlDriverAdapter): SqlDriverAdapter => {
    const drv = (a as { underlyingDriver?: () => unknown }).underlyingDriver?.() as
      | { query(sql: string): Promise<unknown> }
      | undefined;
    const pglite = (a as unknown as { client?: { exec?: (sql: string) => Promise<unknown> } }).client;
    const onError = (e: unknown): never => (a as unknown as { onError(e: unknown): never }).onError(e);
    if (drv && typeof drv.query === "function") {
      a.executeScript = async (script) => {
        try {
          await drv.query(script);
        } catch (e) {
          onError(e);
        }
      };
    } else if (pglite?.exec) {
      const exec = pglite.exec.bind(pglite);
      a.executeScript = async (script) => {
        try {
          await exec(script);
        } catch (e) {
          onError(e);
        }
      };
    }
    return a;
  };
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => {
      const a = patch(await factory.connect());
      opened.push(a);
      return a;
    },
    connectToShadowDb: async () => patch(await factory.connectToShadowDb()),
  };
}

/** Engine calls are wasm promises that hold no handle: keep the process alive while one is pending. */
async function keepAlive<T>(p: Promise<T>): Promise<T> {
  const t = setInterval(() => {}, 1 << 30);
  try {
    return await p;
  } finally {
    clearInterval(t);
  }
}

async function listMigrations(migrationsDir: string): Promise<MigrationList> {
  const lockContent = await readFile(path.join(migrationsDir, LOCKFILE), "utf8").catch(() => null);
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const dirs = await Promise.all(
    entries
      .filter((e) => e.isDirectory())
      .map(async (e) => ({
        path: e.name,
        migrationFile: {
          path: "migration.sql",
          content: await readFile(path.join(migrationsDir, e.name, "migration.sql"), "utf8").then(
            (value) => ({ tag: "ok" as const, value }),
            (err: Error) => ({ tag: "error" as const, value: err.message }),
          ),
        },
      })),
  );
  dirs.sort((a, b) => a.path.localeCompare(b.path));
  return {
    baseDir: migrationsDir,
    lockfile: { path: LOCKFILE, content: lockContent },
    migrationDirectories: dirs,
    shadowDbInitScript: "",
  };
}

export interface MigratorOptions {
  adapter: SqlMigrationAwareDriverAdapterFactory;
  schemaPath?: string;
  migrationsDir?: string;
  log?: (line: string) => void;
}

export class Migrator {
  private constructor(
    private readonly engine: SchemaEngine,
    private readonly migrationsDir: string,
    private readonly schema: { path: string; content: string },
    private readonly opened: SqlDriverAdapter[],
  ) {}

  static async open(opts: MigratorOptions): Promise<Migrator> {
    await loadWasm();
    const schemaPath = opts.schemaPath ?? SCHEMA_PATH;
    const content = await readFile(schemaPath, "utf8");
    const opened: SqlDriverAdapter[] = [];
    const bound = bindMigrationAwareSqlAdapterFactory(wholeScriptExecution(opts.adapter, opened));
    const engine = await keepAlive(
      bg.SchemaEngine.new({ datamodels: [[schemaPath, content]] }, opts.log ?? (() => {}), bound),
    );
    return new Migrator(engine, opts.migrationsDir ?? MIGRATIONS_DIR, { path: schemaPath, content }, opened);
  }

  /** = `prisma migrate deploy`: applies pending migrations, returns their names. */
  async deploy(): Promise<string[]> {
    const migrationsList = await listMigrations(this.migrationsDir);
    const { appliedMigrationNames } = await keepAlive(
      this.engine.applyMigrations({ migrationsList, filters: NO_FILTER }),
    );
    return appliedMigrationNames;
  }

  /**
   * = `prisma migrate dev --create-only --name <name>`, on a scratch database. createMigration() alone has no
   * shadow database; devDiagnostic() fills the engine's cache it reuses, the order `migrate dev` uses.
   */
  async create(name: string): Promise<string | null> {
    const migrationsList = await listMigrations(this.migrationsDir);
    await keepAlive(this.engine.applyMigrations({ migrationsList, filters: NO_FILTER }));
    const diag = await keepAlive(this.engine.devDiagnostic({ migrationsList, filters: NO_FILTER }));
    if (diag.action.tag === "reset") throw new Error(`database drifted from migrations: ${diag.action.reason}`);
    const out = await keepAlive(
      this.engine.createMigration({
        draft: false,
        migrationName: name,
        migrationsList,
        schema: { files: [this.schema] },
        filters: NO_FILTER,
      }),
    );
    if (out.migrationScript === null) return null;
    await mkdir(path.join(this.migrationsDir, out.generatedMigrationName), { recursive: true });
    await writeFile(
      path.join(this.migrationsDir, out.generatedMigrationName, `migration.${out.extension}`),
      out.migrationScript,
      "utf8",
    );
    await writeFile(
      path.join(this.migrationsDir, LOCKFILE),
      `# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "${out.connectorType}"\n`,
      "utf8",
    );
    return out.generatedMigrationName;
  }

  /** = `prisma migrate status` (without shadow database checks). */
  async status() {
    const migrationsList = await listMigrations(this.migrationsDir);
    return keepAlive(
      this.engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: false, filters: NO_FILTER }),
    );
  }

  /** SQL that would take the migrations to schema.prisma; empty (or comments only) when they agree. */
  async diffMigrationsToSchema(): Promise<string> {
    const r = await keepAlive(
      this.engine.diff({
        from: { tag: "migrations", ...(await listMigrations(this.migrationsDir)) },
        to: { tag: "schemaDatamodel", files: [this.schema] },
        script: true,
        exitCode: null,
        filters: NO_FILTER,
      }),
    );
    return (r.stdout ?? "").replace(/^--.*$/gm, "").trim();
  }

  async close(): Promise<void> {
    this.engine.free();
    await Promise.allSettled(this.opened.splice(0).map((a) => a.dispose()));
  }
}
