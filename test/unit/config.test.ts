// Configuration: every bad variable reported at once (never its value), production refusing insecure
// settings, and .env.example / the README listing every variable the code reads.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadConfig } from "../../src/config.js";
import { generateSealingKeyEntry } from "../../src/crypto/seal.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

/** NAME=value lines; `#NAME=value` lines are documented defaults the image overrides (listed, not set). */
function parseEnvFile(text: string): { set: Record<string, string>; listed: string[] } {
  const set: Record<string, string> = {};
  const listed: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^(#?)([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    listed.push(m[2]!);
    if (!m[1]) set[m[2]!] = m[3]!;
  }
  return { set, listed };
}

describe("configuration", () => {
  it("reports every bad variable on its own line, without echoing values", () => {
    const secretish = "k1:not-base64-SECRET";
    const problems = problemsOf({
      NODE_ENV: "prod",
      PORT: "eighty",
      DATABASE_URL: "mysql://user:hunter2@db/x",
      SEALING_KEYS: secretish,
      LOG_LEVEL: "loud",
      METRICS_PORT: "99999",
      METRICS_TOKEN: "short",
      TRUST_PROXY: "yes",
    });
    expect(problems.map((p) => p.split(":")[0])).toEqual(
      expect.arrayContaining(["NODE_ENV", "PORT", "DATABASE_URL", "SEALING_KEYS", "LOG_LEVEL", "METRICS_PORT", "METRICS_TOKEN", "TRUST_PROXY"]),
    );
    expect(problems).toHaveLength(8);
    const text = problems.join("\n");
    for (const secret of ["hunter2", "SECRET", "short"]) expect(text).not.toContain(secret);
  });

  it("defaults to a safe development setup: loopback, embedded database, no metrics listener", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ env: "development", host: "127.0.0.1", port: 3000, databaseUrl: undefined, metrics: undefined, warnings: [] });
  });

  it("refuses production without SEALING_KEYS, and an open metrics listener without a token", () => {
    expect(problemsOf({ NODE_ENV: "production" })).toEqual([expect.stringMatching(/^SEALING_KEYS: required in production/)]);
    const keys = generateSealingKeyEntry("k1");
    expect(problemsOf({ NODE_ENV: "production", SEALING_KEYS: keys, METRICS_PORT: "9464", METRICS_HOST: "0.0.0.0" })).toEqual([
      expect.stringMatching(/^METRICS_TOKEN: required in production/),
    ]);
    const ok = loadConfig({ NODE_ENV: "production", SEALING_KEYS: keys, METRICS_PORT: "9464", METRICS_HOST: "0.0.0.0", METRICS_TOKEN: "x".repeat(32) });
    expect(ok.metrics).toEqual({ host: "0.0.0.0", port: 9464, token: "x".repeat(32) });
    // Loopback metrics need no token; `off` switches the listener off.
    expect(loadConfig({ NODE_ENV: "production", SEALING_KEYS: keys, METRICS_PORT: "9464" }).metrics).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(loadConfig({ METRICS_PORT: "off" }).metrics).toBeUndefined();
    expect(problemsOf({ PORT: "3000", METRICS_PORT: "3000" })).toEqual([expect.stringMatching(/^METRICS_PORT: must differ from PORT/)]);
  });

  it("warns about debug logging in production", () => {
    const c = loadConfig({ NODE_ENV: "production", SEALING_KEYS: generateSealingKeyEntry("k1"), LOG_LEVEL: "debug" });
    expect(c.warnings).toEqual([expect.stringMatching(/^LOG_LEVEL: debug in production/)]);
  });

  it(".env.example lists every variable, and is a valid production configuration once SEALING_KEYS is set", () => {
    const { set: example, listed } = parseEnvFile(readFileSync(path.join(ROOT, ".env.example"), "utf8"));
    for (const name of CONFIG_VARIABLES) expect(listed, `${name} missing from .env.example`).toContain(name);
    // usable as `docker run --env-file`: nothing the image sets for its own layout (interfaces, /data) is overridden
    for (const name of ["HOST", "DATA_DIR", "METRICS_HOST"]) expect(Object.keys(example), name).not.toContain(name);
    expect(example.SEALING_KEYS).toBe(""); // never a real key in the repository
    expect(problemsOf(example)).toEqual([expect.stringMatching(/^SEALING_KEYS: required in production/)]);
    expect(problemsOf({ ...example, SEALING_KEYS: generateSealingKeyEntry("k1") })).toEqual([]);
  });

  it("the README's configuration table has a row for every variable", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"));
    for (const name of CONFIG_VARIABLES) expect(section, `${name} missing from README ## Configuration`).toMatch(new RegExp(`^\\| \`${name}\` \\|`, "m"));
  });

  it("the server prints one `config error:` line per problem and exits 1", async () => {
    const run = promisify(execFile);
    const err = await run(process.execPath, ["--import", "tsx", "src/server.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: "production", PORT: "x", METRICS_TOKEN: "short" },
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err!.stderr.trim().split("\n").sort()).toEqual([
      "config error: METRICS_TOKEN: must be at least 32 characters (e.g. openssl rand -hex 32)",
      "config error: PORT: must be a port number (0-65535)",
      expect.stringMatching(/^config error: SEALING_KEYS: required in production/),
    ]);
  });
});
