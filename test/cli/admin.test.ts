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

/** Signs in to the console over HTTP as a browser would; returns the session cookie, or the status it got. */
async function consoleSignIn(port: number, email: string, password: string): Promise<{ status: number; cookie?: string }> {
  const base = `http://127.0.0.1:${port}/console`;
  const page = await fetch(`${base}/login`, { signal: AbortSignal.timeout(15_000) });
  const pre = /qe_console_login=([^;]+)/.exec(page.headers.get("set-cookie") ?? "")![1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const res = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: `qe_console_login=${pre}` },
    body: new URLSearchParams({ email, password, csrf }).toString(),
    signal: AbortSignal.timeout(15_000),
  });
  await res.arrayBuffer();
  return { status: res.status, cookie: /qe_console_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1] };
}

const consolePage = (port: number, cookie: string) =>
  fetch(`http://127.0.0.1:${port}/console/attempts`, { redirect: "manual", headers: { cookie: `qe_console_session=${cookie}` }, signal: AbortSignal.timeout(15_000) }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

/** analyst create / disable beside the server: the password signs in at once, disabling ends the session at once. */
async function analystFlow(env: NodeJS.ProcessEnv, port: number, orgId: string, check: () => Promise<void>): Promise<string> {
  const created = await ok(env, ["analyst", "create", "--org", orgId, "--email", " Compliance@Bank-A.example ", "--name", "Compliance Officer"], "npm");
  await check();
  expect(Object.keys(created).sort()).toEqual(["email", "id", "orgId", "password"]);
  expect(created).toMatchObject({ id: expect.stringMatching(/^an_[0-9A-Z]{26}$/), orgId, email: "compliance@bank-a.example" });
  expect((created.password as string).length).toBeGreaterThanOrEqual(20);
  const signedIn = await consoleSignIn(port, "compliance@bank-a.example", created.password as string);
  expect(signedIn.status).toBe(303);
  expect(await consolePage(port, signedIn.cookie!)).toBe(200);

  await fails(env, ["analyst", "create", "--org", orgId, "--email", "COMPLIANCE@bank-a.example"], 1, /already exists/);
  await fails(env, ["analyst", "create", "--org", orgId, "--email", "not-an-email"], 1, /email: must be an email address/);
  await fails(env, ["analyst", "create", "--org", "org_nope", "--email", "x@bank-a.example"], 1, /org not found/);
  await fails(env, ["analyst", "create", "--org", orgId], 2, /--email is required/);
  await fails(env, ["analyst", "disable", "--id", "an_nope"], 1, /analyst not found/);

  const disabled = await ok(env, ["analyst", "disable", "--id", created.id as string]);
  await check();
  expect(Object.keys(disabled).sort()).toEqual(["disabledAt", "id"]);
  expect(disabled.id).toBe(created.id);
  expect(new Date(disabled.disabledAt as string).toISOString()).toBe(disabled.disabledAt);
  expect(await consolePage(port, signedIn.cookie!)).toBe(303); // the session ended at once
  expect((await consoleSignIn(port, "compliance@bank-a.example", created.password as string)).status).toBe(401);
  return created.password as string;
}

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

  // the org's own face-match threshold: shown in the org JSON; out of range is a usage error; `default` clears it
  expect(off.faceMatchThreshold).toBeNull();
  expect(await ok(env, ["org", "set", "--org", orgId, "--face-match-threshold", "55"])).toMatchObject({ id: orgId, faceMatchThreshold: 55 });
  for (const bad of ["101", "-1", "4.5", "abc", ""]) {
    await fails(env, ["org", "set", "--org", orgId, "--face-match-threshold", bad], 2, /--face-match-threshold/);
  }
  expect(await ok(env, ["org", "set", "--org", orgId, "--face-match-threshold", "default"])).toMatchObject({ faceMatchThreshold: null });

  // failures beside the server: stderr, non-zero, empty stdout
  await fails(env, ["org", "set", "--org", "org_nope", "--dukcapil", "on"], 1, /org not found/);
  await fails(env, ["customer", "create", "--org", orgId, "--external-ref", "cust-0001"], 1, /already exists/);
  await fails(env, ["customer", "create", "--org", orgId, "--external-ref", "3171012345678901"], 1, /externalRef: .*NIK/);
  await fails(env, ["key", "create", "--org", orgId, "--scopes", "verifications:view", "--env", "prod"], 2, /--env takes sandbox or live/);
  await fails(env, ["key", "create", "--org", orgId, "--scopes", "verifications:view,everything"], 1, /invalid scope\(s\) everything/);
  await fails(env, ["key", "create", "--org", orgId, "--scopes", "Customers:view"], 1, /invalid scope/);
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
  const password = await analystFlow(env, port, orgId, check);
  return { orgId, liveKey: live.key as string, password };
}

describe.runIf(testDbKind === "pglite")("admin CLI help", () => {
  it("--help prints the usage on stdout and exits 0; no command at all is a usage error (stderr, exit 2)", async () => {
    const env = { ...process.env, DATA_DIR: await tempDir("cli-help") };
    const help = await cli(env, ["--help"]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: npm run --silent admin -- <command>\n/);
    for (const command of ["org create", "key create", "key revoke", "customer create", "customer erase", "erasure log", "retention sweep", "audit show", "keys rewrap", "enrolments retemplate", "analyst create", "analyst disable"]) {
      expect(help.stdout).toContain(`  ${command} `);
    }
    await fails(env, [], 2, /^usage: /);
  });

  it("sealing-key generate prints exactly {entry}, a SEALING_KEYS entry of 32 random bytes, with no database or configuration", async () => {
    const env = { PATH: process.env.PATH, DATA_DIR: "/nonexistent/never-created" };
    const first = await ok(env, ["sealing-key", "generate"]);
    expect(Object.keys(first)).toEqual(["entry"]);
    expect(first.entry).toMatch(/^k\d{8}:[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from((first.entry as string).split(":")[1]!, "base64")).toHaveLength(32);
    const named = await ok(env, ["sealing-key", "generate", "--id", "k2"]);
    expect(named.entry).toMatch(/^k2:[A-Za-z0-9+/]{43}=$/);
    expect(named.entry).not.toBe(first.entry);
    await fails(env, ["sealing-key", "generate", "--id", "bad id!"], 2, /--id/);
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
    const { password } = await flowBesideServer(env, port, check);
    // the server ran each command itself (its log names the verb only)
    const commands = server.logs.filter((l) => l.msg === "admin command").map((l) => l.command);
    expect(commands).toEqual(expect.arrayContaining(["org create", "key create", "customer create", "org set", "key revoke", "analyst create", "analyst disable"]));
    expect(JSON.stringify(server.logs)).not.toContain(password);
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
    const { password } = await flowBesideServer(env, port, check);
    expect(JSON.stringify(server.logs)).not.toContain(password);
    // the CLI wrote to the database directly, not through the server
    expect(server.logs.filter((l) => l.msg === "admin command")).toEqual([]);
    expect(server.logs.length).toBeGreaterThan(5);
    expect(JSON.stringify(server.logs)).not.toMatch(/qe_sk_(sandbox|live)_[A-Z2-7]{32}/);
    expect((await stopServer(server)).code).toBe(0);
  }, 240_000);
});

// ------------------------------------------------------------------------------ erasure and retention

/** A fresh PostgreSQL database for one server (dropped by cleanupAll). */
async function freshPgDatabase(prefix: string): Promise<string> {
  const base = process.env.TEST_DATABASE_URL!;
  const name = `qe_test_${prefix}_${process.pid}_${randomBytes(3).toString("hex")}`;
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  onCleanup(async () => {
    const d = new pg.Client({ connectionString: base });
    await d.connect();
    await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await d.end();
  });
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

const verdictWithRaw = (port: number, key: string, customerId: string, raw: string) =>
  http(port, "POST", "/api/identity/nik/dukcapil", key, { customerId, valid: true, photo: PHOTO_B64, raw: JSON.parse(raw) });
let PHOTO_B64 = "";

describe("admin customer erase, erasure log, org retention and retention sweep beside a live server", () => {
  it(`${testDbKind}: every command works beside the server, which shows each erasure at once; its background sweep erases past-window raw`, async () => {
    const { jpeg, b64 } = await import("../helpers/images.js");
    PHOTO_B64 = b64(await jpeg(200, 240));
    const dataDir = await tempDir("cli-erasure");
    const port = await freePort();
    const databaseUrl = testDbKind === "postgres" ? await freshPgDatabase("cli_erasure") : undefined;
    const env: NodeJS.ProcessEnv = {
      ...serviceEnv({ port, dataDir, databaseUrl, sealingKeys: newSealingKeys() }),
      // the sweep every second, on a clock two days ahead (a test hook honoured with NODE_ENV=test only)
      NODE_ENV: "test",
      RETENTION_SWEEP_INTERVAL_SECONDS: "1",
      TEST_RETENTION_CLOCK_OFFSET_MS: String(2 * 86_400_000),
      USER: "svc-account",
    };
    const server = await startServer(env, 60_000);
    const cliEnv = { ...env, USER: "dpo.cli" }; // the operator running the CLI, not the service's account

    const org = await ok(cliEnv, ["org", "create", "--name", "Erasure Bank", "--dukcapil"]);
    const orgId = org.id as string;
    const key = (await ok(cliEnv, ["key", "create", "--org", orgId, "--scopes", "verifications:view,customers:write,customers:view"])).key as string;
    const customerId = (await ok(cliEnv, ["customer", "create", "--org", orgId])).id as string;
    const neighbourId = (await ok(cliEnv, ["customer", "create", "--org", orgId])).id as string;
    const v1 = await verdictWithRaw(port, key, customerId, '{"nik":"3171","case":1}');
    expect(v1.status, JSON.stringify(v1.body)).toBe(201);
    expect((await verdictWithRaw(port, key, customerId, '{"nik":"3171","case":2}')).status).toBe(201);
    expect((await verdictWithRaw(port, key, neighbourId, '{"nik":"3171","case":3}')).status).toBe(201);
    const rawId = (v1.body.verification as { id: string }).id;

    // refusals erase nothing: no reason (usage, 2), unknown customer (1)
    await fails(cliEnv, ["customer", "erase", "--customer", customerId], 2, /--reason is required/);
    await fails(cliEnv, ["customer", "erase", "--customer", "cnotacustomer00000000000000", "--reason", "x"], 1, /customer not found/);
    await fails(cliEnv, ["erasure", "log", "--limit", "lots"], 2, /--limit takes a whole number/);
    await fails(cliEnv, ["erasure", "log", "--limit", "0"], 1, /limit: must be a whole number from 1/);
    expect(await ok(cliEnv, ["erasure", "log"])).toEqual({ data: [], truncated: false });

    const erased = await ok(cliEnv, ["customer", "erase", "--customer", customerId, "--reason", "data subject request 4711"]);
    expect(Object.keys(erased).sort()).toEqual(["customerId", "erased", "erasedAt"]);
    expect(erased).toEqual({ customerId, erasedAt: expect.any(String), erased: { photos: 2, templates: 0, selfies: 0, raw: 2 } }); // FACE_ENGINE=off: stubs, no templates
    expect((await ok(cliEnv, ["customer", "erase", "--customer", customerId, "--reason", "again", "--actor", "ops.second"])).erased).toEqual({ photos: 0, templates: 0, selfies: 0, raw: 0 });

    const log = await ok(cliEnv, ["erasure", "log", "--customer", customerId]);
    expect(log).toEqual({
      data: [
        { id: expect.stringMatching(/^era_/), orgId, customerId, actor: "ops.second", reason: "again", createdAt: expect.any(String), erased: { photos: 0, templates: 0, selfies: 0, raw: 0 } },
        // --actor defaults to the OS user running the CLI, resolved before the command reaches the server
        { id: expect.stringMatching(/^era_/), orgId, customerId, actor: "dpo.cli", reason: "data subject request 4711", createdAt: erased.erasedAt, erased: erased.erased },
      ],
      truncated: false,
    });
    expect(await ok(cliEnv, ["erasure", "log", "--limit", "1"])).toMatchObject({ data: [{ reason: "again" }], truncated: true });

    // the server shows it at once: KYC references, audit show
    const detail = await http(port, "GET", `/api/identity/kyc/${customerId}`, key);
    expect(detail.status).toBe(200);
    expect((detail.body.references as { erasedAt: string }[]).map((r) => r.erasedAt)).toEqual([erased.erasedAt, erased.erasedAt]);
    expect(detail.body.verifications as unknown[]).toHaveLength(2);
    await fails(cliEnv, ["audit", "show", "--verification", rawId, "--reason", "dispute"], 1, new RegExp(`raw envelope of verification ${rawId} was erased at ${erased.erasedAt as string}`));
    expect(((await ok(cliEnv, ["audit", "log", "--verification", rawId])).data as { actor: string }[]).map((a) => a.actor)).toEqual(["dpo.cli"]);
    const neighbourRefs = (await http(port, "GET", `/api/identity/kyc/${neighbourId}`, key)).body.references as { erasedAt: string | null }[];
    expect(neighbourRefs.map((r) => r.erasedAt)).toEqual([null]);

    // retention: the org JSON shows the windows; the server's own sweep erases what is past them
    await fails(cliEnv, ["org", "set", "--org", orgId, "--retain-raw-days", "0"], 2, /--retain-raw-days takes a whole number of days from 1 to 3650, or off/);
    const set = await ok(cliEnv, ["org", "set", "--org", orgId, "--retain-raw-days", "1", "--retain-selfies-days", "off"]);
    expect(set).toMatchObject({ id: orgId, retainRawDays: 1, retainSelfiesDays: null });
    const swept = await server.waitForLog((l) => l.msg === "retention sweep" && (l.rawErased as number) > 0, 20_000);
    expect(swept).toMatchObject({ rawErased: 1, selfiesErased: 0, complete: true, orgs: [{ orgId, rawErased: 1, selfiesErased: 0 }] });
    expect(await ok(cliEnv, ["erasure", "log", "--limit", "1"])).toMatchObject({
      data: [{ orgId, customerId: null, actor: "retention", reason: "retention: raw envelopes older than 1 day", erased: { photos: 0, templates: 0, selfies: 0, raw: 1 } }],
    });
    expect(((await http(port, "GET", `/api/identity/kyc/${neighbourId}`, key)).body.references as { erasedAt: string | null }[]).map((r) => r.erasedAt)).toEqual([null]); // photos are never swept
    const sweep = await ok(cliEnv, ["retention", "sweep", "--org", orgId]);
    expect(sweep).toEqual({ erased: { selfies: 0, raw: 0 }, complete: true });
    await fails(cliEnv, ["retention", "sweep", "--org", "org_nope"], 1, /org not found/);

    if (testDbKind === "pglite") {
      const commands = server.logs.filter((l) => l.msg === "admin command").map((l) => l.command);
      expect(commands).toEqual(expect.arrayContaining(["customer erase", "erasure log", "retention sweep", "org set"]));
    } else {
      expect(server.logs.filter((l) => l.msg === "admin command")).toEqual([]);
    }
    expect(JSON.stringify(server.logs)).not.toContain('"case":1');
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
        ["org set --face-match-threshold", (v) => ["org", "set", "--org", bank.orgId, "--face-match-threshold", v]],
        ["org set --retain-raw-days", (v) => ["org", "set", "--org", bank.orgId, "--retain-raw-days", v]],
        ["org set --retain-selfies-days", (v) => ["org", "set", "--org", bank.orgId, "--retain-selfies-days", v]],
        ["erasure log --limit", (v) => ["erasure", "log", "--limit", v]],
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
