// npm run smoke:prod: the container image's steps, replayed without Docker (no engine runs on these machines).
// From the git-tracked files only, in a temp dir, the build stage's RUN commands as the Dockerfile writes them
// (npm ci, build, prune dev dependencies); then start the built
// service exactly as the Dockerfile's CMD does, with NODE_ENV=production and ONLY the production environment
// (the Dockerfile's ENV plus the secrets an operator provides), on a fresh PostgreSQL database; wait for
// /readyz; check the HEALTHCHECK command; create an org, key and customer with the admin CLI as the image runs
// it; post one verified verdict; sign in to the console (its templates and stylesheet are in the build);
// read the metrics listener, /openapi.json and /docs; stop with SIGTERM and expect exit 0.
//
// This driver runs from the checkout (it needs pg and sharp, which a pruned tree may not have); everything
// it starts runs from the pruned copy, so a runtime dependency that only dev installs provide fails here.
//
// Env: SMOKE_DATABASE_URL (else TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/postgres),
// SMOKE_KEEP=1 keeps the temp dir.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import sharp from "sharp";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const ADMIN_URL = process.env.SMOKE_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const started = performance.now();
const timings: Record<string, number> = {};

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  process.stdout.write(`smoke: ${name} … `);
  const result = await fn();
  timings[name] = Math.round(performance.now() - t);
  process.stdout.write(`ok (${(timings[name] / 1000).toFixed(1)} s)\n`);
  return result;
}

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

async function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  try {
    return await run(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The build stage's RUN commands; what the runtime stage declares: its ENV, its CMD and its HEALTHCHECK command. */
function parseDockerfile(text: string) {
  const joined = text.replace(/^\s*#.*\n/gm, "").replace(/\\\n\s*/g, " ");
  const stages = joined.split(/^(?=FROM )/m).slice(1);
  check(stages.length === 2, "Dockerfile: expected a build stage and a runtime stage");
  const [build, runtime] = stages as [string, string];
  const buildRuns = [...build.matchAll(/^RUN (.+)$/gm)].map((m) => m[1]!.trim());
  const env: Record<string, string> = {};
  for (const m of runtime.matchAll(/^ENV (.+)$/gm)) {
    for (const kv of m[1]!.trim().split(/\s+/)) {
      const i = kv.indexOf("=");
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
  }
  const cmd = JSON.parse(/^CMD (\[.+\])$/m.exec(runtime)?.[1] ?? "null") as string[] | null;
  const health = JSON.parse(/^HEALTHCHECK .*?CMD (\[.+\])$/m.exec(runtime)?.[1] ?? "null") as string[] | null;
  const workdir = /^WORKDIR (.+)$/m.exec(runtime)?.[1];
  check(cmd && health && workdir === "/app", "Dockerfile: runtime stage needs WORKDIR /app, an exec-form CMD and HEALTHCHECK");
  // COPY --from=build /app/<a> [/app/<b> ...] <dest>: what the image keeps of the build stage.
  const copies = [...runtime.matchAll(/^COPY --from=build (.+)$/gm)].map((m) => {
    const parts = m[1]!.trim().split(/\s+/);
    const dest = parts.pop()!;
    return { from: parts.map((p) => p.replace(/^\/app\//, "")), dest };
  });
  return { env, cmd, health, buildRuns, copies };
}

async function main() {
  const work = await mkdtemp(path.join(os.tmpdir(), "qe-smoke-"));
  const app = path.join(work, "app");
  const dbName = `qe_smoke_${process.pid}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  let adminConnected = false;
  let server: ChildProcess | undefined;
  try {
    const docker = parseDockerfile(await readFile(path.join(ROOT, "Dockerfile"), "utf8"));

    await step("copy the git-tracked files", async () => {
      const { stdout } = await sh("git", ["ls-files", "-z"], ROOT);
      const files = stdout.split("\0").filter(Boolean);
      for (const f of files) {
        const from = path.join(ROOT, f);
        if (!(await stat(from).catch(() => undefined))?.isFile()) continue; // deleted in the working tree
        await mkdir(path.dirname(path.join(app, f)), { recursive: true });
        await copyFile(from, path.join(app, f));
      }
      check(files.includes("Dockerfile") && files.includes("package-lock.json"), "Dockerfile and package-lock.json must be tracked");
    });
    // npm must act on the copy only: drop the npm_* variables `npm run smoke:prod` put into our environment.
    const buildEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "INIT_CWD"));
    for (const cmd of docker.buildRuns) {
      await step(`RUN ${cmd.length > 60 ? `${cmd.slice(0, 57)}...` : cmd}`, () =>
        sh("sh", ["-c", cmd], app, { ...buildEnv, CHECKPOINT_DISABLE: "1", npm_config_prefer_offline: "true" }),
      );
    }
    await step("no devDependency left", async () => {
      const pkg = JSON.parse(await readFile(path.join(app, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
      for (const dev of Object.keys(pkg.devDependencies)) {
        check(!(await stat(path.join(app, "node_modules", dev)).catch(() => undefined)), `devDependency ${dev} survived the prune`);
      }
      check(await stat(path.join(app, "dist/src/server.js")).catch(() => undefined), "the build made no dist/src/server.js");
    });
    // The runtime stage holds only what it copies from the build stage: run from exactly that (moved, not
    // copied: the build tree is not used again).
    const image = path.join(work, "image");
    await step("assemble the runtime stage (its COPY --from=build)", async () => {
      for (const { from, dest } of docker.copies) {
        for (const f of from) {
          const target = dest.endsWith("/") && from.length > 1 ? path.join(image, dest, path.basename(f)) : path.join(image, dest === "./" ? path.basename(f) : dest);
          await mkdir(path.dirname(target), { recursive: true });
          await rename(path.join(app, f), target);
        }
      }
    });

    const port = await freePort();
    const metricsPort = await freePort();
    const metricsToken = randomBytes(24).toString("hex");
    const databaseUrl = await step("create a fresh PostgreSQL database", async () => {
      await admin.connect();
      adminConnected = true;
      await admin.query(`CREATE DATABASE ${dbName}`);
      const u = new URL(ADMIN_URL);
      u.pathname = `/${dbName}`;
      return u.toString();
    });
    // Only what the container would have: PATH/HOME for node itself, the image's ENV, the operator's secrets.
    const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, ...docker.env };
    const cli = async (args: string[], env: NodeJS.ProcessEnv) => {
      const { stdout } = await sh(process.execPath, ["dist/src/cli/admin.js", ...args], image, env);
      return JSON.parse(stdout) as Record<string, unknown>;
    };
    const sealingKeys = await step("generate SEALING_KEYS with the CLI", async () => {
      const { entry } = (await cli(["sealing-key", "generate"], { ...baseEnv, DATA_DIR: path.join(work, "data") })) as { entry: string };
      check(/^[A-Za-z0-9_.-]+:[A-Za-z0-9+/]{43}=$/.test(entry), "sealing-key generate printed no key entry");
      return entry;
    });
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      NODE_ENV: "production",
      HOST: "127.0.0.1", // the image binds 0.0.0.0; here nothing outside this machine should reach it
      PORT: String(port),
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: String(metricsPort),
      METRICS_TOKEN: metricsToken,
      DATA_DIR: path.join(work, "data"),
      DATABASE_URL: databaseUrl,
      SEALING_KEYS: sealingKeys,
      FACE_WORKERS: "1",
    };
    check(env.NODE_ENV === docker.env.NODE_ENV, "the Dockerfile must set NODE_ENV=production");

    const base = `http://127.0.0.1:${port}`;
    let exited: Promise<number | null> = Promise.resolve(null);
    let log = "";
    await step("start the service (the Dockerfile's CMD) and wait for /readyz", async () => {
      server = spawn(docker.cmd[0]!, docker.cmd.slice(1), { cwd: image, env, stdio: ["ignore", "pipe", "pipe"] });
      server.stdout!.on("data", (d: Buffer) => (log += d.toString()));
      server.stderr!.on("data", (d: Buffer) => (log += d.toString()));
      const s = server;
      exited = new Promise((resolve) => s.once("exit", (code) => resolve(code)));
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (s.exitCode !== null) throw new Error(`service exited with ${s.exitCode}:\n${log.slice(-4000)}`);
        if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) break;
        if (Date.now() > deadline) throw new Error(`service not ready after 120 s:\n${log.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      check(!/"level":(50|60)/.test(log), `errors in the service log:\n${log.slice(-4000)}`);
    });
    await step("HEALTHCHECK command", () => sh(docker.health[0]!, docker.health.slice(1), image, env));

    const auth = await step("org, key and customer with the admin CLI", async () => {
      const org = await cli(["org", "create", "--name", "Smoke Bank", "--dukcapil"], env);
      const key = await cli(["key", "create", "--org", String(org.id), "--scopes", "verifications:view,customers:write,customers:view", "--env", "live"], env);
      const customer = await cli(["customer", "create", "--org", String(org.id), "--external-ref", "smoke-0001"], env);
      check(/^qe_sk_live_/.test(String(key.key)) && customer.kycLevel === "none", "unexpected CLI output");
      return { authorization: `Bearer ${String(key.key)}`, customerId: String(customer.id), orgId: String(org.id) };
    });
    await step("POST one verified verdict", async () => {
      const photo = await sharp({ create: { width: 400, height: 500, channels: 3, background: { r: 180, g: 140, b: 110 } } }).jpeg().toBuffer();
      const res = await fetch(`${base}/api/identity/nik/dukcapil`, {
        method: "POST",
        headers: { authorization: auth.authorization, "content-type": "application/json" },
        body: JSON.stringify({ customerId: auth.customerId, valid: true, photo: photo.toString("base64"), raw: { result: "MATCH" } }),
      });
      const body = (await res.json()) as { verification?: { status?: string }; enrolment?: { source?: string } };
      check(res.status === 201 && body.verification?.status === "verified" && body.enrolment?.source === "dukcapil", `ingest: ${res.status} ${JSON.stringify(body)}`);
    });
    await step("the compliance console from the built tree: analyst, sign-in (Secure cookie), attempts page, stylesheet", async () => {
      const analyst = await cli(["analyst", "create", "--org", auth.orgId, "--email", "smoke@bank.example"], env);
      const form = await fetch(`${base}/console/login`);
      const pre = /qe_console_login=([^;]+)/.exec(form.headers.get("set-cookie") ?? "")?.[1];
      const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1];
      check(form.status === 200 && pre && csrf, `/console/login: ${form.status}`);
      const signIn = await fetch(`${base}/console/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: `qe_console_login=${pre}` },
        body: new URLSearchParams({ email: "smoke@bank.example", password: String(analyst.password), csrf: csrf! }).toString(),
      });
      const setCookie = signIn.headers.get("set-cookie") ?? "";
      const session = /qe_console_session=([^;]+);[^,]*Secure/.exec(setCookie)?.[1];
      check(signIn.status === 303 && session, `console sign-in: ${signIn.status} ${setCookie.replace(/=[^;]+/g, "=…")}`);
      const page = await fetch(`${base}/console/attempts`, { headers: { cookie: `qe_console_session=${session}` } });
      check(page.status === 200 && (await page.text()).includes("nik_dukcapil"), `/console/attempts: ${page.status}`);
      const css = await fetch(`${base}/console/static/console.css`);
      check(css.status === 200 && (css.headers.get("content-type") ?? "").startsWith("text/css"), `/console/static/console.css: ${css.status}`);
    });
    await step("metrics listener (token) and no /metrics on the API port", async () => {
      const url = `http://127.0.0.1:${metricsPort}/metrics`;
      check((await fetch(url)).status === 401, "metrics without the token must be refused");
      const text = await (await fetch(url, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
      check(/identity_dukcapil_verdicts_total\{outcome="verified"\} 1\b/.test(text), "verdict not counted in metrics");
      check(/db_pool_connections\{state="total"\} [1-9]/.test(text), "no PostgreSQL pool state in metrics");
      // The face engine runs from the pruned tree too (its models ship in a dependency): a flat test image has
      // no face, so a stub is expected, but never because the engine failed.
      const enrolment = /identity_face_enrolments_total\{[^}]*cause="([a-z_]+)"\} 1\b/.exec(text);
      check(enrolment && enrolment[1] !== "engine_error", `enrolment cause: ${enrolment?.[1] ?? "not counted"}`);
      process.stdout.write(`(enrolment cause ${enrolment[1]}) `);
      check((await fetch(`${base}/metrics`, { headers: { authorization: auth.authorization } })).status === 404, "/metrics on the API port");
    });
    await step("the contract at /openapi.json and the docs at /docs", async () => {
      const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi?: string; paths?: Record<string, unknown> };
      check(spec.openapi === "3.1.0" && spec.paths?.["/api/identity/nik/dukcapil"], "no OpenAPI document at /openapi.json");
      const docs = await fetch(`${base}/docs/`);
      check(docs.status === 200 && (docs.headers.get("content-type") ?? "").includes("text/html"), `/docs: ${docs.status}`);
      check((await fetch(`${base}/docs/static/swagger-ui-bundle.js`)).status === 200, "/docs static assets missing from the pruned tree");
    });
    await step("SIGTERM and a clean exit", async () => {
      server!.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 30_000))]);
      check(code === 0, `service exited with ${String(code)} after SIGTERM:\n${log.slice(-4000)}`);
      server = undefined;
      check(!/"level":(50|60)/.test(log), `errors in the service log:\n${log.slice(-4000)}`);
    });
    console.log(`smoke:prod passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    server?.kill("SIGKILL");
    if (adminConnected) {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
      await admin.end().catch(() => {});
    }
    if (process.env.SMOKE_KEEP) console.log(`smoke: kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`\nsmoke:prod FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
