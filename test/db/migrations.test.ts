// `npm run db:check` (also run in CI through this test) fails when schema.prisma and prisma/migrations
// disagree. It runs as a child process: the wasm schema engine does not run inside vitest's module runner.
// On the PostgreSQL run the check diffs on a scratch PostgreSQL database (DEV_DATABASE_URL) instead of PGlite.
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDbKind } from "../helpers/db.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SCHEMA = path.join(ROOT, "prisma/schema.prisma");
const MIGRATIONS = path.join(ROOT, "prisma/migrations");
const run = promisify(execFile);

let tmp: string;
const scratchDbs: string[] = [];
let adminUrl: string | undefined;
let scratchCount = 0;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "qe-migrations-"));
  if (testDbKind === "postgres") adminUrl = process.env.TEST_DATABASE_URL;
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
  if (adminUrl && scratchDbs.length) {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    for (const db of scratchDbs) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.end();
  }
});

/** On the PostgreSQL run, a fresh scratch database for the check to diff on. */
async function scratchEnv(): Promise<NodeJS.ProcessEnv> {
  if (!adminUrl) return {};
  const name = `qe_test_check_${process.pid}_${scratchCount++}`;
  scratchDbs.push(name);
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { DEV_DATABASE_URL: u.toString() };
}

async function dbCheck(env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv = { ...process.env, ...(await scratchEnv()), ...env };
  delete childEnv.NODE_OPTIONS; // vitest's module-runner hooks have no business in the child
  if (!adminUrl) delete childEnv.DEV_DATABASE_URL;
  return run("npm", ["run", "--silent", "db:check"], { cwd: ROOT, env: childEnv, timeout: 90_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** A copy of the migrations directory to tamper with. */
async function migrationsCopy(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await cp(MIGRATIONS, dir, { recursive: true });
  return dir;
}

describe("db:check", () => {
  it("passes on the repository's schema and migrations", async () => {
    const r = await dbCheck();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("migrations are in sync with schema.prisma");
  }, 120_000);

  it("fails when the schema has a change no migration captures, or a migration is missing, or a migration adds more", async () => {
    // 1. a field added to schema.prisma only
    const schema = await readFile(SCHEMA, "utf8");
    const changed = schema.replace(/^(model Org \{\n)/m, `$1  qeTestExtra String? @map("qe_test_extra")\n`);
    expect(changed).not.toBe(schema);
    const schemaFile = path.join(tmp, "schema.prisma");
    await writeFile(schemaFile, changed);

    // 2. the newest migration that creates a table deleted, with the ones after it (triggers and other raw SQL are not in the schema)
    const missing = await migrationsCopy("missing");
    const names = (await readdir(missing, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    const creating: string[] = [];
    for (const n of names) if (/CREATE TABLE/.test(await readFile(path.join(missing, n, "migration.sql"), "utf8"))) creating.push(n);
    expect(creating.length).toBeGreaterThan(0);
    for (const n of names.filter((n) => n >= creating.at(-1)!)) await rm(path.join(missing, n), { recursive: true }); // and what builds on it

    // 3. an extra migration the schema does not describe
    const extra = await migrationsCopy("extra");
    await mkdir(path.join(extra, "29991231000000_qe_test_extra"));
    await writeFile(path.join(extra, "29991231000000_qe_test_extra", "migration.sql"), `CREATE TABLE "qe_test_stray" ("id" TEXT PRIMARY KEY);\n`);

    const [field, gone, stray] = await Promise.all([
      dbCheck({ PRISMA_SCHEMA_PATH: schemaFile }),
      dbCheck({ PRISMA_MIGRATIONS_DIR: missing }),
      dbCheck({ PRISMA_MIGRATIONS_DIR: extra }),
    ]);
    for (const r of [field, gone, stray]) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/schema\.prisma and prisma\/migrations disagree/);
    }
    expect(field.stderr).toMatch(/ALTER TABLE "orgs" ADD COLUMN\s+"qe_test_extra" TEXT/);
    expect(stray.stderr).toMatch(/DROP TABLE "qe_test_stray"/);
    expect(gone.stderr).toMatch(/CREATE TABLE/);

    // and the repository's files were not touched
    expect(await readFile(SCHEMA, "utf8")).toBe(schema);
  }, 180_000);
});

describe("db:migrate as the image's one-shot command", () => {
  it("runs with the production image's environment and only DATABASE_URL / DATA_DIR: no service secrets", async () => {
    // What `docker run --rm -e DATABASE_URL=… identity-ingest node dist/src/db/cli.js deploy` sees: the image's
    // ENV (production, metrics on 0.0.0.0) and no SEALING_KEYS or METRICS_TOKEN, which a migration never uses.
    const target = adminUrl ? (await scratchEnv()).DEV_DATABASE_URL! : undefined;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: "production",
      HOST: "0.0.0.0",
      METRICS_HOST: "0.0.0.0",
      METRICS_PORT: "9464",
      ...(target ? { DATABASE_URL: target } : { DATA_DIR: path.join(tmp, "image-data") }),
    };
    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, ["--import", "tsx", "src/db/cli.ts", ...args], { cwd: ROOT, env: { ...env, ...extra }, timeout: 90_000 }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    const deploy = await cli(["deploy"]);
    expect(deploy, deploy.stderr).toMatchObject({ code: 0 });
    expect(deploy.stdout).toMatch(/^applied: \d{14}_init, /);
    expect((await cli(["deploy"])).stdout).toBe("no pending migrations\n");
    // its own variables are still validated, one `config error:` line each
    const bad = await cli(["deploy"], { DATABASE_URL: "mysql://h/db" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("config error: DATABASE_URL: must be a postgresql:// URL (leave unset for the embedded database)\n");
  });
});
