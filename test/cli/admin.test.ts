// The admin CLI as an external contract (README "Admin CLI"), through real processes: stdout is exactly one
// JSON object and exit 0; a failure is a message on stderr, a non-zero exit and an empty stdout. Beside a live
// server, in both database modes, every change is visible over HTTP at once; with the embedded database the
// CLI never opens the data directory while the server owns it (it hands the command to the server's socket).
// These start real processes: few, bounded, and cleaned up even on failure. The PGlite part runs in the pglite
// project, the PostgreSQL part in the postgres project, so each runs once.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { toAdminReply } from "../../src/cli/admin-socket.js";
import { runAdminCommand } from "../../src/cli/commands.js";
import { cleanupAll, freePort, newSealingKeys, onCleanup, serviceEnv, startServer, stopServer, tempDir, ROOT } from "../faults/harness.js";
import { createTestContext } from "../helpers/app.js";
import { testDbKind } from "../helpers/db.js";

const run = promisify(execFile);
const KEY_FORMAT = /^qe_sk_(sandbox|live)_[A-Z2-7]{32}$/;

afterAll(() => cleanupAll(), 60_000);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/cli/admin.ts …` (what the npm script runs), or through npm itself. */
async function cli(env: NodeJS.ProcessEnv, args: string[], via: "node" | "npm" = "node"): Promise<CliResult> {
  const [cmd, argv] = via === "npm" ? ["npm", ["run", "--silent", "admin", "--", ...args]] : [process.execPath, ["--import", "tsx", "src/cli/admin.ts", ...args]];
  return run(cmd as string, argv as string[], { cwd: ROOT, env, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** A success: exit 0, nothing on stderr, stdout exactly one JSON object on one line. */
async function ok(env: NodeJS.ProcessEnv, args: string[], via: "node" | "npm" = "node"): Promise<Record<string, unknown>> {
  const r = await cli(env, args, via);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  expect(r.stderr).toBe("");
  expect(r.stdout.endsWith("\n")).toBe(true);
  expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
  const value: unknown = JSON.parse(r.stdout);
  expect(value).toBeTypeOf("object");
  expect(Array.isArray(value)).toBe(false);
  return value as Record<string, unknown>;
}

/** A failure: non-zero exit (the given one), a message on stderr, nothing on stdout. */
async function fails(env: NodeJS.ProcessEnv, args: string[], code: number, message: RegExp): Promise<void> {
  const r = await cli(env, args);
  expect(r.code, `${args.join(" ")} → ${r.stdout}${r.stderr}`).toBe(code);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(message);
}

async function http(port: number, method: string, url: string, key?: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const verdict = (port: number, key: string, customerId: string) =>
  http(port, "POST", "/api/identity/nik/dukcapil", key, { customerId, valid: false, reason: "NIK not found in central registry" });

/**
 * A verdict whose raw envelope is just under the 256 KiB cap (random text: a truncation, a reorder or a
 * re-serialisation would show), posted as text so `raw` is stored exactly as written here. Returns the
 * verification id and the envelope.
 */
async function bigVerdict(port: number, key: string, customerId: string): Promise<{ verificationId: string; raw: string }> {
  const raw = `{"nik":"3171000000000000", "blob":"${randomBytes(190 * 1024).toString("base64")}"}`;
  expect(Buffer.byteLength(raw)).toBeGreaterThan(250 * 1024);
  const res = await fetch(`http://127.0.0.1:${port}/api/identity/nik/dukcapil`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: `{"customerId":"${customerId}","valid":false,"reason":"large envelope","raw":${raw}}`,
  });
  const body = (await res.json()) as { verification: { id: string } };
  expect(res.status, JSON.stringify(body)).toBe(201);
  return { verificationId: body.verification.id, raw };
}

/** Runs the CLI from a shell with its stdout on a pipe (`| (sleep 1; cat)`: the reader is slow), a file, or `| head -c 100`. */
async function cliThrough(env: NodeJS.ProcessEnv, args: string[], into: "slow pipe" | "file" | "closed pipe"): Promise<CliResult & { bytes: Buffer }> {
  const dir = await tempDir("cli-out");
  const out = path.join(dir, "out");
  const cmd = `"$0" --import tsx src/cli/admin.ts "$@"`;
  const script = {
    "slow pipe": `set -o pipefail; ${cmd} | (sleep 1; cat) > '${out}'`,
    file: `${cmd} > '${out}'`,
    "closed pipe": `set -o pipefail; ${cmd} | head -c 100 > '${out}'`,
  }[into];
  const r = await run("bash", ["-c", script, process.execPath, ...args], { cwd: ROOT, env, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
  return { ...r, bytes: await readFile(out) };
}

/** `audit show` of a 256 KiB envelope arrives whole on a pipe and in a file; a reader that closes early makes it fail. */
async function auditShowArrivesWhole(env: NodeJS.ProcessEnv, big: { verificationId: string; raw: string }) {
  const args = ["audit", "show", "--verification", big.verificationId, "--reason", "truncation check", "--actor", "tests"];
  for (const into of ["slow pipe", "file"] as const) {
    const r = await cliThrough(env, args, into);
    expect(r.code, `${into}: ${r.stderr}`).toBe(0);
    expect(r.stderr, into).toBe("");
    expect(r.bytes.length, into).toBe(Buffer.byteLength(big.raw) + 1);
    expect(r.bytes.toString("utf8"), into).toBe(`${big.raw}\n`);
  }
  const cut = await cliThrough(env, args, "closed pipe");
  expect(cut.bytes.length).toBe(100);
  expect(cut.code, cut.stderr).toBe(1);
  expect(cut.stderr).toMatch(/^error: stdout was closed before the output was written whole \(EPIPE\)\n$/);
}

/**
 * The whole README flow beside a running server: create org, key and customer with the CLI, and prove over
 * HTTP that the server sees each change at once. `check` runs after every CLI call (the PGlite lock test).
 */
async function flowBesideServer(env: NodeJS.ProcessEnv, port: number, check: () => Promise<void>) {
  const org = await ok(env, ["org", "create", "--name", "Bank A", "--dukcapil"], "npm");
  await check();
  expect(Object.keys(org).sort()).toEqual(["dukcapilEnabled", "id", "name"]);
  expect(org).toEqual({ id: expect.stringMatching(/^org_[0-9A-Z]{26}$/), name: "Bank A", dukcapilEnabled: true });
  const orgId = org.id as string;

  const key = await ok(env, ["key", "create", "--org", orgId, "--scopes", "verifications:view,customers:write,customers:view", "--env", "sandbox", "--name", "core banking"]);
  await check();
  expect(key).toMatchObject({ id: expect.stringMatching(/^key_/), key: expect.stringMatching(KEY_FORMAT), scopes: ["verifications:view", "customers:write", "customers:view"], env: "sandbox" });
  expect(Object.keys(key).sort()).toEqual(["env", "id", "key", "scopes"]);
  expect(key.key as string).toMatch(/^qe_sk_sandbox_/);
  const live = await ok(env, ["key", "create", "--org", orgId, "--scopes", "customers:write", "--env", "live"]);
  expect(live).toMatchObject({ key: expect.stringMatching(/^qe_sk_live_[A-Z2-7]{32}$/), env: "live", scopes: ["customers:write"] });

  const customer = await ok(env, ["customer", "create", "--org", orgId, "--external-ref", "cust-0001"]);
  await check();
  expect(Object.keys(customer).sort()).toEqual(["createdAt", "externalRef", "id", "kycLevel"]);
  expect(customer).toMatchObject({ id: expect.stringMatching(/^[a-z][0-9a-z]{23}$/), externalRef: "cust-0001", kycLevel: "none" });

  // the key works at once, on the customer the CLI made
  const k = key.key as string;
  const first = await verdict(port, k, customer.id as string);
  expect(first.status, JSON.stringify(first.body)).toBe(201);
  expect(first.body).toEqual({ verification: { id: expect.stringMatching(/^ver_/), status: "failed" }, enrolment: null });
  expect((await http(port, "POST", "/api/customers", live.key as string, { externalRef: "via-live-key" })).status).toBe(201);

  // capability off → 403 at once; a limit override → the next response shows it
  const off = await ok(env, ["org", "set", "--org", orgId, "--dukcapil", "off", "--limit", "identity.nik.dukcapil=7"]);
  await check();
  expect(off).toMatchObject({ id: orgId, name: "Bank A", dukcapilEnabled: false, rateLimits: { "identity.nik.dukcapil": 7 } });
  const refused = await verdict(port, k, customer.id as string);
  expect(refused.status).toBe(403);
  expect(refused.body).toMatchObject({ error: "org capability disabled: dukcapilEnabled" });
  expect(refused.headers.get("x-ratelimit-limit")).toBe("7");
  await ok(env, ["org", "set", "--org", orgId, "--dukcapil", "on"]);
  expect((await verdict(port, k, customer.id as string)).status).toBe(201);

  // failures beside the server: stderr, non-zero, empty stdout
  await fails(env, ["org", "set", "--org", "org_nope", "--dukcapil", "on"], 1, /org not found/);
  await fails(env, ["customer", "create", "--org", orgId, "--external-ref", "cust-0001"], 1, /already exists/);
  await fails(env, ["customer", "create", "--org", orgId, "--external-ref", "3171012345678901"], 1, /externalRef: .*NIK/);
  await fails(env, ["key", "create", "--org", orgId, "--scopes", "verifications:view", "--env", "prod"], 2, /--env takes sandbox or live/);
  await fails(env, ["org", "set", "--org", orgId, "--limit", "identity.nik.nope=5"], 1, /unknown bucket/);
  await fails(env, ["org", "frobnicate"], 2, /usage/);
  await fails(env, ["key", "revoke", "--key-id", "key_nope"], 1, /API key not found/);
  await check();

  // output as large as the largest envelope arrives whole through a pipe and in a file
  await auditShowArrivesWhole(env, await bigVerdict(port, k, customer.id as string));
  // absurd numbers are usage errors (exit 2), not internal errors
  for (const days of ["1e10", "99999999999", "36501", "0x10", "-1"]) {
    await fails(env, ["key", "create", "--org", orgId, "--scopes", "customers:write", "--expires-in-days", days], 2, /--expires-in-days/);
  }

  // revoked → 401 on the very next request
  const revoked = await ok(env, ["key", "revoke", "--key-id", key.id as string]);
  await check();
  expect(Object.keys(revoked).sort()).toEqual(["id", "revokedAt"]);
  expect(revoked.id).toBe(key.id);
  expect(new Date(revoked.revokedAt as string).toISOString()).toBe(revoked.revokedAt);
  const gone = await verdict(port, k, customer.id as string);
  expect(gone.status).toBe(401);
  expect(gone.body).toMatchObject({ error: "missing or invalid Bearer" });
  // a key in a URL is refused, and (like every key) never reaches the server's log
  expect((await http(port, "GET", `/healthz?api_key=${live.key as string}`)).status).toBe(400);
  return { orgId, liveKey: live.key as string };
}

describe.runIf(testDbKind === "pglite")("admin CLI help", () => {
  it("--help prints the usage on stdout and exits 0; no command at all is a usage error (stderr, exit 2)", async () => {
    const env = { ...process.env, DATA_DIR: await tempDir("cli-help") };
    const help = await cli(env, ["--help"]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: npm run --silent admin -- <command>\n/);
    for (const command of ["org create", "key create", "key revoke", "customer create", "audit show", "keys rewrap", "enrolments retemplate"]) {
      expect(help.stdout).toContain(`  ${command} `);
    }
    await fails(env, [], 2, /^usage: /);
  });
});

describe.runIf(testDbKind === "pglite")("admin CLI with the embedded database", () => {
  it("beside a live server: every command goes through the server, which sees each change at once", async () => {
    const dataDir = await tempDir("cli");
    const port = await freePort();
    const env = serviceEnv({ port, dataDir, sealingKeys: newSealingKeys() });
    const server = await startServer(env, 60_000);
    const lockFile = path.join(dataDir, "embedded-db.lock");
    const lockBefore = await readFile(lockFile, "utf8");
    expect(JSON.parse(lockBefore)).toMatchObject({ pid: server.pid, role: "server", adminSocket: expect.stringMatching(/admin\.sock$/) });
    const socket = JSON.parse(lockBefore).adminSocket as string;
    expect((await stat(socket)).mode & 0o777).toBe(0o600);

    // The lock is still the server's own holding (same token; only its heartbeat moves): no CLI process took it.
    const holding = ({ heartbeatAt: _beat, ...rest }: Record<string, unknown>) => rest;
    const check = async () => {
      expect(server.alive()).toBe(true);
      const now = JSON.parse(await readFile(lockFile, "utf8")) as Record<string, unknown>;
      expect(holding(now)).toEqual(holding(JSON.parse(lockBefore) as Record<string, unknown>));
      expect(Date.parse(now.heartbeatAt as string)).toBeGreaterThan(Date.now() - 10_000); // and it is alive
    };
    await flowBesideServer(env, port, check);
    // the server ran each command itself (its log names the verb only)
    const commands = server.logs.filter((l) => l.msg === "admin command").map((l) => l.command);
    expect(commands).toEqual(expect.arrayContaining(["org create", "key create", "customer create", "org set", "key revoke"]));
    expect(server.logs.length).toBeGreaterThan(5);
    expect(JSON.stringify(server.logs)).not.toMatch(/qe_sk_(sandbox|live)_[A-Z2-7]{32}/);

    // stop the server: the lock is released, the socket removed
    expect((await stopServer(server)).code).toBe(0);
    await expect(stat(lockFile)).rejects.toThrow();
    await expect(stat(socket)).rejects.toThrow();
  }, 240_000);

  it("with no server running the CLI takes the lock itself, and a server starts fine afterwards", async () => {
    const dataDir = await tempDir("cli-offline");
    const port = await freePort();
    const env = serviceEnv({ port, dataDir, sealingKeys: newSealingKeys() });
    const org = await ok(env, ["org", "create", "--name", "Offline Bank", "--dukcapil"]);
    expect(org).toEqual({ id: expect.stringMatching(/^org_/), name: "Offline Bank", dukcapilEnabled: true });
    const key = await ok(env, ["key", "create", "--org", org.id as string, "--scopes", "verifications:view,customers:write"]);
    expect(key.key).toMatch(/^qe_sk_sandbox_[A-Z2-7]{32}$/); // sandbox is the default env
    await fails(env, ["org", "create"], 2, /--name is required/);
    await fails(env, [], 2, /usage/);
    // each command released the lock when done
    await expect(stat(path.join(dataDir, "embedded-db.lock"))).rejects.toThrow();

    const server = await startServer(env, 60_000);
    expect((await http(port, "GET", "/readyz")).status).toBe(200);
    const c = await http(port, "POST", "/api/customers", key.key as string, { externalRef: "after-offline" });
    expect(c.status).toBe(201);
    expect(JSON.parse(await readFile(path.join(dataDir, "embedded-db.lock"), "utf8"))).toMatchObject({ pid: server.pid, role: "server" });
    const big = await bigVerdict(port, key.key as string, (c.body.data as { id: string }).id);
    expect((await stopServer(server)).code).toBe(0);
    // with no server, the CLI opens the database itself: the output still arrives whole
    await auditShowArrivesWhole(env, big);
  }, 180_000);
});

describe.runIf(testDbKind === "postgres")("admin CLI with PostgreSQL", () => {
  it("beside a live server on the same database, every change is visible at once", async () => {
    const base = process.env.TEST_DATABASE_URL!;
    const name = `qe_test_cli_${process.pid}_${randomBytes(3).toString("hex")}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    onCleanup(async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    });
    const u = new URL(base);
    u.pathname = `/${name}`;
    const dataDir = await tempDir("cli-pg");
    const port = await freePort();
    const env = serviceEnv({ port, dataDir, databaseUrl: u.toString(), sealingKeys: newSealingKeys() });
    const server = await startServer(env, 60_000); // migrates the fresh database at start
    const check = async () => {
      expect(server.alive()).toBe(true);
      await expect(stat(path.join(dataDir, "embedded-db.lock"))).rejects.toThrow(); // no embedded database involved
    };
    await flowBesideServer(env, port, check);
    // the CLI wrote to the database directly, not through the server
    expect(server.logs.filter((l) => l.msg === "admin command")).toEqual([]);
    expect(server.logs.length).toBeGreaterThan(5);
    expect(JSON.stringify(server.logs)).not.toMatch(/qe_sk_(sandbox|live)_[A-Z2-7]{32}/);
    expect((await stopServer(server)).code).toBe(0);
  }, 240_000);
});

describe("admin CLI numeric flags", () => {
  it("every numeric flag takes digits in range; anything else is a usage error, never an internal one", async () => {
    const ctx = await createTestContext();
    try {
      const bank = await ctx.tenant();
      const verification = (await ctx.prisma.verification.findFirst())?.id ?? "ver_none";
      const absurd = ["1e10", "99999999999", "9999999999999999", "99999999999999999999999", "1e400", "Infinity", "NaN", "-1", "0x10", "1.5", " 5", "5 ", "", "\uff15", "0b1"];
      const commands: [string, (v: string) => string[]][] = [
        ["key create --expires-in-days", (v) => ["key", "create", "--org", bank.orgId, "--scopes", "customers:write", "--expires-in-days", v]],
        ["enrolments retemplate --limit", (v) => ["enrolments", "retemplate", "--org", bank.orgId, "--limit", v]],
        ["keys rewrap --batch-size", (v) => ["keys", "rewrap", "--batch-size", v]],
        ["audit log --limit", (v) => ["audit", "log", "--verification", verification, "--limit", v]],
        ["org set --limit", (v) => ["org", "set", "--org", bank.orgId, "--limit", `identity.nik.dukcapil=${v}`]],
      ];
      for (const [name, argv] of commands) {
        for (const value of absurd) {
          const kind = await runAdminCommand(ctx.services, argv(value)).then(
            () => "ok",
            (err: unknown) => toAdminReply(err).error!.kind,
          );
          const what = `${name} ${JSON.stringify(value)}`;
          // not digits: a usage error for every flag; digits out of range: usage, or the org's/audit's own rule (refused)
          if (!/^\d+$/.test(value)) expect(kind, what).toBe("usage");
          else if (name.startsWith("key create")) expect(kind, what).toBe("usage");
          else expect(["usage", "client", "ok"], what).toContain(kind);
        }
      }
      // the bounds themselves are fine
      const key = (await runAdminCommand(ctx.services, ["key", "create", "--org", bank.orgId, "--scopes", "customers:write", "--expires-in-days", "36500"])) as { id: string };
      const row = await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } });
      expect(Math.round((row.expiresAt!.getTime() - Date.now()) / 86_400_000)).toBe(36_500);
    } finally {
      await ctx.close();
    }
  });
});
