// Once per test run: a migrated PGlite cluster dumped to a file (each test file restores it in ~0.3 s instead
// of running initdb and the migrations), and, with TEST_DATABASE_URL, a migrated PostgreSQL template database
// that each test file clones.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteDump: string;
    pgTemplate: string | undefined;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "qe-test-"));
  // The wasm schema engine does not run inside vitest's module runner: migrate in plain Node processes.
  const tsx = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    execFileSync(process.execPath, ["--import", "tsx", ...args], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...env } });
  const dumpFile = path.join(dir, "migrated.tar");
  tsx(["test/helpers/make-migrated-dump.ts", dumpFile]);
  project.provide("pgliteDump", dumpFile);

  let template: string | undefined;
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    template = `qe_test_tpl_${process.pid}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${template}`);
    const u = new URL(url);
    u.pathname = `/${template}`;
    tsx(["src/db/cli.ts", "deploy"], { DATABASE_URL: u.toString() });
    await admin.end();
  }
  project.provide("pgTemplate", template);

  return async () => {
    await rm(dir, { recursive: true, force: true });
    if (url && template) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'qe_test_%${process.pid}%'`);
      for (const r of rows) await admin.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
      await admin.end();
    }
  };
}
