import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { callAdminSocket, startAdminSocket } from "../../src/cli/admin-socket.js";
import { runAdminCommand, UsageError, VerbatimJson, withDefaultAuditActor } from "../../src/cli/commands.js";
import { createSealer, generateSealingKeyEntry, parseSealingKeys } from "../../src/crypto/seal.js";
import { createAuditService } from "../../src/modules/audit/audit-service.js";
import { NotFoundError, UnprocessableError, ValidationError } from "../../src/errors.js";
import { faceEngineOff } from "../../src/face/engine.js";
import { createServices } from "../../src/services.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { testDbKind } from "../helpers/db.js";
import { b64, jpeg } from "../helpers/images.js";

const INGEST = "/api/identity/nik/dukcapil";
// Whitespace, a 1.0 a parser would turn into 1, escapes and non-ASCII: printed as sent or the test fails.
const RAW_TEXT = '{ "nik":"3171012345678901", "score": 1.0,\n  "nested": {"b":2,"a":[1,2e3]} , "unicode":"\\u00e9é", "emoji":"🙂" }';

let ctx: TestContext;
let bank: Tenant;
let photo: string;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000 } });
  photo = b64(await jpeg(200, 240));
});
afterAll(() => ctx.close());

/** A verdict with RAW_TEXT as its raw envelope, posted as literal JSON text so its bytes are the bank's. */
async function verdictWithRaw(t: Tenant = bank): Promise<string> {
  const customerId = await t.customer();
  const res = await t.post(INGEST, `{"customerId":"${customerId}","valid":true,"raw":${RAW_TEXT},"photo":"${photo}"}`);
  expect(res.statusCode).toBe(201);
  return res.json().verification.id;
}

const admin = (argv: string[]) => runAdminCommand(ctx.services, argv);
const accessesOf = (verificationId: string) => ctx.prisma.auditAccess.findMany({ where: { verificationId }, orderBy: { createdAt: "asc" } });

describe("admin audit show", () => {
  it("prints the raw envelope byte-for-byte as the bank sent it and records who, when and why", async () => {
    const id = await verdictWithRaw();
    const before = Date.now();
    const out = await admin(["audit", "show", "--verification", id, "--reason", "case 4711: disputed onboarding", "--actor", "siti.compliance"]);
    expect(out).toBeInstanceOf(VerbatimJson);
    const text = (out as VerbatimJson).text;
    expect(Buffer.from(text, "utf8").equals(Buffer.from(RAW_TEXT, "utf8"))).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ nik: "3171012345678901", emoji: "🙂" }); // one JSON object

    const rows = await accessesOf(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ orgId: bank.orgId, verificationId: id, actor: "siti.compliance", reason: "case 4711: disputed onboarding" });
    expect(rows[0]!.id).toMatch(/^aud_[0-9A-Z]{26}$/);
    expect(rows[0]!.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it("every access is recorded, each one", async () => {
    const id = await verdictWithRaw();
    await admin(["audit", "show", "--verification", id, "--reason", "first look", "--actor", "a"]);
    await admin(["audit", "show", "--verification", id, "--reason", "second look", "--actor", "b"]);
    expect((await accessesOf(id)).map((r) => [r.actor, r.reason])).toEqual([
      ["a", "first look"],
      ["b", "second look"],
    ]);
  });

  it("records the access before opening the envelope: an envelope that cannot be opened still leaves the attempt on record", async () => {
    const id = await verdictWithRaw();
    // the same database, but a keyring without the key that sealed the envelope
    const otherKeys = createServices({ prisma: ctx.prisma, sealer: createSealer(parseSealingKeys(generateSealingKeyEntry("other"))), face: faceEngineOff });
    await expect(runAdminCommand(otherKeys, ["audit", "show", "--verification", id, "--reason", "rotation check", "--actor", "ops"])).rejects.toThrow(/not in SEALING_KEYS/);
    expect((await accessesOf(id)).map((r) => r.reason)).toEqual(["rotation check"]);
  });

  it("refuses an access without a reason, and records nothing", async () => {
    const id = await verdictWithRaw();
    for (const argv of [
      ["audit", "show", "--verification", id],
      ["audit", "show", "--verification", id, "--reason", ""],
      ["audit", "show", "--verification", id, "--reason", "   "],
    ]) {
      await expect(admin(argv)).rejects.toThrow(UsageError);
    }
    await expect(ctx.services.audit.openRaw({ verificationId: id, actor: "x", reason: " " })).rejects.toThrow(ValidationError);
    await expect(ctx.services.audit.openRaw({ verificationId: id, actor: "x", reason: "r".repeat(501) })).rejects.toThrow(ValidationError);
    await expect(admin(["audit", "show", "--reason", "why"])).rejects.toThrow(/--verification is required/);
    expect(await accessesOf(id)).toEqual([]);
  });

  it("an unknown verification or one without a raw envelope: refused, nothing recorded", async () => {
    await expect(admin(["audit", "show", "--verification", "ver_01J0000000000000000000000", "--reason", "x", "--actor", "a"])).rejects.toThrow(NotFoundError);
    const customerId = await bank.customer();
    const declined = (await bank.post(INGEST, { customerId, valid: false, reason: "declined" })).json().verification.id;
    await expect(admin(["audit", "show", "--verification", declined, "--reason", "x", "--actor", "a"])).rejects.toThrow(UnprocessableError);
    expect(await ctx.prisma.auditAccess.count({ where: { verificationId: { in: ["ver_01J0000000000000000000000", declined] } } })).toBe(0);
  });

  it("without --actor, the actor is the OS user running the CLI ($USER), else unknown", async () => {
    expect(withDefaultAuditActor(["audit", "show", "--verification", "v", "--reason", "r"], { USER: "budi" })).toEqual([
      "audit", "show", "--verification", "v", "--reason", "r", "--actor", "budi",
    ]);
    expect(withDefaultAuditActor(["audit", "show", "--verification", "v", "--reason", "r"], {})).toContain("unknown");
    expect(withDefaultAuditActor(["audit", "show", "--actor", "x"], { USER: "budi" })).toEqual(["audit", "show", "--actor", "x"]);
    expect(withDefaultAuditActor(["org", "create"], { USER: "budi" })).toEqual(["org", "create"]);

    const id = await verdictWithRaw();
    await admin(["audit", "show", "--verification", id, "--reason", "default actor"]);
    expect((await accessesOf(id))[0]!.actor).toBe(process.env.USER?.trim() || "unknown");
  });
});

describe("admin audit log", () => {
  it("lists access records newest first, for one verification or all", async () => {
    const a = await verdictWithRaw();
    const other = await ctx.tenant({ limits: { "identity.nik.dukcapil": 100 } });
    const b = await verdictWithRaw(other);
    await admin(["audit", "show", "--verification", a, "--reason", "r1", "--actor", "x"]);
    await admin(["audit", "show", "--verification", b, "--reason", "r2", "--actor", "y"]);
    await admin(["audit", "show", "--verification", a, "--reason", "r3", "--actor", "z"]);

    const forA = (await admin(["audit", "log", "--verification", a])) as { data: { reason: string; verificationId: string; orgId: string }[]; truncated: boolean };
    expect(forA.truncated).toBe(false);
    expect(forA.data.map((d) => d.reason)).toEqual(["r3", "r1"]);
    expect(forA.data[0]).toEqual({ id: expect.stringMatching(/^aud_/), orgId: bank.orgId, verificationId: a, actor: "z", reason: "r3", createdAt: expect.any(String) });

    const all = (await admin(["audit", "log"])) as { data: { reason: string; orgId: string }[] };
    expect(all.data.slice(0, 3).map((d) => d.reason)).toEqual(["r3", "r2", "r1"]);
    expect(all.data[1]!.orgId).toBe(other.orgId);
    expect(all.data).toHaveLength(await ctx.prisma.auditAccess.count());

    const cut = (await admin(["audit", "log", "--limit", "2"])) as { data: unknown[]; truncated: boolean };
    expect(cut.data).toHaveLength(2);
    expect(cut.truncated).toBe(true);
    await expect(admin(["audit", "log", "--limit", "0"])).rejects.toThrow(ValidationError);
    await expect(admin(["audit", "log", "--limit", "many"])).rejects.toThrow(UsageError);
    expect(JSON.parse(JSON.stringify(forA))).toEqual(forA); // one plain JSON object
  });
});

describe("the audit service at its bounds", () => {
  it("who and why: trimmed, required, at most 500 and 100 characters, each named in the 400; the bounds themselves are accepted", async () => {
    const id = await verdictWithRaw();
    const open = (reason: string, actor: string) => ctx.services.audit.openRaw({ verificationId: id, actor, reason });
    for (const [reason, actor, fieldErrors] of [
      ["", "a", { reason: ["a reason is required for every access to a raw envelope"] }],
      ["r".repeat(501), "a", { reason: ["must be at most 500 characters"] }],
      ["r", "  ", { actor: ["is required"] }],
      ["r", "a".repeat(101), { actor: ["must be at most 100 characters"] }],
      [" ", "", { reason: ["a reason is required for every access to a raw envelope"], actor: ["is required"] }],
    ] as const) {
      await expect(open(reason, actor)).rejects.toMatchObject({ statusCode: 400, message: "audit access refused", fieldErrors });
    }
    expect(await accessesOf(id)).toEqual([]);
    const at = new Date("2026-06-01T08:00:00.000Z");
    const audit = createAuditService({ prisma: ctx.prisma, sealer: ctx.sealer, now: () => at });
    const out = await audit.openRaw({ verificationId: id, reason: ` ${"r".repeat(500)} `, actor: ` ${"a".repeat(100)} ` });
    expect(out).toEqual({ accessId: expect.stringMatching(/^aud_[0-9A-Z]{26}$/), rawText: RAW_TEXT });
    expect(await accessesOf(id)).toEqual([
      expect.objectContaining({ id: out.accessId, orgId: bank.orgId, verificationId: id, reason: "r".repeat(500), actor: "a".repeat(100), createdAt: at }),
    ]);
    const declined = (await bank.post(INGEST, { customerId: await bank.customer(), valid: false, reason: "declined" })).json().verification.id;
    await expect(audit.openRaw({ verificationId: declined, reason: "r", actor: "a" })).rejects.toMatchObject({
      statusCode: 422,
      code: "no_raw_envelope",
      message: `verification ${declined} has no raw envelope on record`,
    });
    await expect(audit.openRaw({ verificationId: "ver_unknown", reason: "r", actor: "a" })).rejects.toMatchObject({ statusCode: 404, message: "verification not found" });
  });

  it("the log: at most `limit` (default 100), truncated says so; limits outside 1 to 10000 are refused", async () => {
    const id = await verdictWithRaw();
    for (let i = 0; i < 101; i++) await ctx.services.audit.openRaw({ verificationId: id, reason: `look ${i}`, actor: "a" });
    const log = await ctx.services.audit.log({ verificationId: id });
    expect([log.data.length, log.truncated, log.data[0]!.reason, log.data[99]!.reason]).toEqual([100, true, "look 100", "look 1"]);
    expect(await ctx.services.audit.log({ verificationId: id, limit: 101 })).toMatchObject({ truncated: false, data: expect.any(Array) });
    expect((await ctx.services.audit.log({ verificationId: id, limit: 10_000 })).data).toHaveLength(101);
    for (const limit of [0, 10_001, 0.5]) {
      await expect(ctx.services.audit.log({ limit })).rejects.toMatchObject({ statusCode: 400, message: "invalid audit log request", fieldErrors: { limit: ["must be a whole number from 1 to 10000"] } });
    }
  });
});

describe("admin audit through a real CLI process", () => {
  it("keeps the envelope's exact text across the admin socket a running server answers on", async () => {
    const id = await verdictWithRaw();
    const dir = await mkdtemp(path.join(os.tmpdir(), "qe-audit-"));
    const socket = await startAdminSocket(path.join(dir, "admin.sock"), (argv) => runAdminCommand(ctx.services, argv), () => {});
    try {
      const reply = await callAdminSocket(path.join(dir, "admin.sock"), ["audit", "show", "--verification", id, "--reason", "via socket", "--actor", "srv"]);
      expect(reply).toEqual({ ok: true, verbatim: RAW_TEXT });
      const refused = await callAdminSocket(path.join(dir, "admin.sock"), ["audit", "show", "--verification", id]);
      expect(refused).toMatchObject({ ok: false, error: { kind: "usage" } });
      expect((await accessesOf(id)).map((r) => r.reason)).toEqual(["via socket"]);
    } finally {
      await socket.close();
      await rm(dir, { recursive: true, force: true });
    }
  });


  // The embedded test database lives in this process's memory; a second process can only reach PostgreSQL.
  it.skipIf(testDbKind !== "postgres")("prints the envelope's exact bytes on stdout, records $USER, and exits non-zero without a reason", async () => {
    const keys = generateSealingKeyEntry("cli1");
    const services = createServices({ prisma: ctx.prisma, sealer: createSealer(parseSealingKeys(keys)), face: faceEngineOff });
    const app = await buildApp({ prisma: ctx.prisma, services, logLevel: "silent" });
    let id: string;
    try {
      const key = await services.apiKeys.create({ orgId: bank.orgId, scopes: ["verifications:view"] });
      const customerId = await bank.customer();
      const res = await app.inject({
        method: "POST",
        url: INGEST,
        headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
        payload: `{"customerId":"${customerId}","valid":true,"raw":${RAW_TEXT},"photo":"${photo}"}`,
      });
      expect(res.statusCode).toBe(201);
      id = res.json().verification.id;
    } finally {
      await app.close();
    }
    const run = (args: string[]) =>
      promisify(execFile)("npm", ["run", "--silent", "admin", "--", ...args], {
        cwd: path.resolve(import.meta.dirname, "../.."),
        env: { ...process.env, DATABASE_URL: ctx.db.url, SEALING_KEYS: keys, USER: "cli.auditor", LOG_LEVEL: "warn" },
        encoding: "buffer",
      });
    const ok = await run(["audit", "show", "--verification", id, "--reason", "real process"]);
    expect(Buffer.compare(ok.stdout, Buffer.from(`${RAW_TEXT}\n`, "utf8"))).toBe(0);
    expect((await accessesOf(id)).map((r) => [r.actor, r.reason])).toEqual([["cli.auditor", "real process"]]);

    const refused = await run(["audit", "show", "--verification", id]).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: Buffer }) => ({ code: e.code, stderr: e.stderr.toString() }),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("--reason is required");
    expect(await accessesOf(id)).toHaveLength(1);
  }, 60_000);
});
