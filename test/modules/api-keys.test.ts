// API keys: random, shown once, stored as SHA-256 only, looked up by hash; revocation takes effect on the next
// request; last-used times are batched in memory and written in one statement, never once per request.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdminCommand } from "../../src/cli/commands.js";
import { createApiKeysService } from "../../src/modules/api-keys/api-keys-service.js";
import { createTestContext, type TestContext } from "../helpers/app.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const UNAUTHORIZED = { error: "missing or invalid Bearer", code: "unauthorized", requestId: expect.any(String) };
const createCustomer = (authorization: string) =>
  ctx.app.inject({ method: "POST", url: "/api/customers", headers: { authorization, "content-type": "application/json" }, payload: {} });

describe("API keys", () => {
  it("are random, shown once, and stored only as their SHA-256", async () => {
    const bank = await ctx.tenant();
    const other = await ctx.tenant();
    expect(bank.key).toMatch(/^qe_sk_sandbox_[A-Z2-7]{32}$/);
    expect(other.key.slice(14)).not.toBe(bank.key.slice(14));
    const row = await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: bank.keyId } });
    expect(Buffer.from(row.hash).equals(createHash("sha256").update(bank.key).digest())).toBe(true);
    expect(row.prefix).toBe(bank.key.slice(0, 18)); // a display label: env plus 4 of 32 secret characters
    const everything = JSON.stringify(await ctx.prisma.$queryRawUnsafe(`SELECT *, encode(hash, 'escape') AS h FROM api_keys`), (_k, v: unknown) =>
      typeof v === "bigint" ? String(v) : v,
    );
    expect(everything).not.toContain(bank.key.slice(18));
  });

  it("a key that differs in any way is refused: one character, case, environment, whitespace", async () => {
    const bank = await ctx.tenant();
    const last = bank.key.at(-1)!;
    const variants = [
      `${bank.key.slice(0, -1)}${last === "A" ? "B" : "A"}`,
      bank.key.replace(/_([A-Z2-7]{32})$/, (_m, s: string) => `_${s.toLowerCase()}`),
      bank.key.replace("_sandbox_", "_live_"),
      `${bank.key} `,
      bank.key.slice(0, -1),
    ];
    for (const v of variants) {
      const res = await createCustomer(`Bearer ${v}`);
      expect(res.statusCode, v).toBe(401);
      expect(res.json()).toEqual(UNAUTHORIZED);
    }
    expect((await createCustomer(`Bearer ${bank.key}`)).statusCode).toBe(201);
  });

  it("a revoked key is refused on the very next request", async () => {
    const bank = await ctx.tenant();
    expect((await createCustomer(`Bearer ${bank.key}`)).statusCode).toBe(201);
    const revoked = await runAdminCommand(ctx.services, ["key", "revoke", "--key-id", bank.keyId]);
    expect(revoked).toEqual({ id: bank.keyId, revokedAt: expect.any(String) });
    const next = await createCustomer(`Bearer ${bank.key}`);
    expect(next.statusCode).toBe(401);
    expect(next.json()).toEqual(UNAUTHORIZED);
    // revoking again is harmless and keeps the first time
    expect(await runAdminCommand(ctx.services, ["key", "revoke", "--key-id", bank.keyId])).toEqual(revoked);
  });

  it("an expired key is refused", async () => {
    const bank = await ctx.tenant();
    await ctx.prisma.apiKey.update({ where: { id: bank.keyId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await createCustomer(`Bearer ${bank.key}`)).statusCode).toBe(401);
  });

  it("last-used time: no database write per request, one batched statement on flush", async () => {
    const a = await ctx.tenant();
    const b = await ctx.tenant();
    await ctx.services.apiKeys.flushLastUsed(); // start from an empty batch
    // Count UPDATE statements on api_keys from here on.
    await ctx.prisma.$executeRawUnsafe(`CREATE TABLE qe_test_key_writes (n int NOT NULL)`);
    await ctx.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION qe_test_count_key_writes() RETURNS trigger AS $$
      BEGIN INSERT INTO qe_test_key_writes VALUES (1); RETURN NULL; END $$ LANGUAGE plpgsql`);
    await ctx.prisma.$executeRawUnsafe(
      `CREATE TRIGGER qe_test_count_key_writes AFTER UPDATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION qe_test_count_key_writes()`,
    );
    const writes = async () => Number((await ctx.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM qe_test_key_writes`))[0]!.n);
    try {
      for (let i = 0; i < 10; i++) expect((await createCustomer(`Bearer ${(i % 2 ? a : b).key}`)).statusCode).toBe(201);
      const lastRequestAt = Date.now();
      expect(await writes()).toBe(0);
      const rows = await ctx.prisma.apiKey.findMany({ where: { id: { in: [a.keyId, b.keyId] } } });
      expect(rows.map((r) => r.lastUsedAt)).toEqual([null, null]);

      expect(await ctx.services.apiKeys.flushLastUsed()).toBe(2);
      expect(await writes()).toBe(1);
      for (const r of await ctx.prisma.apiKey.findMany({ where: { id: { in: [a.keyId, b.keyId] } } })) {
        expect(r.lastUsedAt!.getTime()).toBeGreaterThan(lastRequestAt - 10_000);
        expect(r.lastUsedAt!.getTime()).toBeLessThanOrEqual(lastRequestAt);
      }
      // nothing new: nothing written
      expect(await ctx.services.apiKeys.flushLastUsed()).toBe(0);
      expect(await writes()).toBe(1);
    } finally {
      await ctx.prisma.$executeRawUnsafe(`DROP TRIGGER qe_test_count_key_writes ON api_keys`);
      await ctx.prisma.$executeRawUnsafe(`DROP TABLE qe_test_key_writes`);
    }
  });
});

// The service itself, as the admin CLI and the auth hook call it (in this process, so every rule here is
// under test wherever it is broken): each field's rule at its bounds, the 401's two faces, expiry to the
// millisecond, what a key authenticates to.
describe("API keys service", () => {
  const T0 = new Date("2026-06-01T08:00:00.000Z");
  const at = (ms: number) => new Date(T0.getTime() + ms);
  const service = (now: Date) => createApiKeysService({ prisma: ctx.prisma, now: () => now });
  const keyCount = () => ctx.prisma.apiKey.count();

  it("create: scopes trimmed and listed once; env, name and expiry returned as stored; the prefix is env plus 4 characters", async () => {
    const bank = await ctx.tenant();
    const out = await service(T0).create({ orgId: bank.orgId, scopes: [" customers:view ", "customers:view", "", "api:manage"], env: "live", name: "x".repeat(100), expiresAt: at(1) });
    expect(out).toEqual({
      id: expect.stringMatching(/^key_/),
      key: expect.stringMatching(/^qe_sk_live_[A-Z2-7]{32}$/),
      prefix: out.key.slice(0, 15),
      name: "x".repeat(100),
      scopes: ["customers:view", "api:manage"],
      env: "live",
      orgId: bank.orgId,
      expiresAt: at(1).toISOString(),
      createdAt: expect.any(String),
    });
    const row = await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: out.id } });
    expect(row).toMatchObject({ name: out.name, scopes: out.scopes, env: "live", prefix: out.prefix, expiresAt: at(1) });
    const plain = await service(T0).create({ orgId: bank.orgId, scopes: ["verifications:view"], name: "a" });
    expect(plain).toMatchObject({ env: "sandbox", name: "a", expiresAt: null, prefix: plain.key.slice(0, 18) });
    expect(plain.key).toMatch(/^qe_sk_sandbox_/);
    expect((await service(T0).create({ orgId: bank.orgId, scopes: ["customers:write"] })).name).toBeNull();
  });

  it("create: every broken rule is named in one 400 and nothing is written", async () => {
    const bank = await ctx.tenant();
    const before = await keyCount();
    const refused = (input: Partial<Parameters<ReturnType<typeof service>["create"]>[0]>) =>
      service(T0).create({ orgId: bank.orgId, scopes: ["customers:view"], ...input } as Parameters<ReturnType<typeof service>["create"]>[0]);
    await expect(refused({ scopes: [], env: "prod" as never, name: "", expiresAt: T0 })).rejects.toMatchObject({
      statusCode: 400,
      code: "validation_failed",
      message: "invalid API key request",
      fieldErrors: {
        env: ["must be one of sandbox, live"],
        scopes: ["at least one scope is required"],
        name: ["must be 1-100 characters"],
        expiresAt: ["must be in the future"],
      },
    });
    await expect(refused({ scopes: [" ", ""] })).rejects.toMatchObject({ fieldErrors: { scopes: ["at least one scope is required"] } });
    await expect(refused({ scopes: ["customers:view", "Customers:view", "customers:delete", "*"] })).rejects.toMatchObject({
      fieldErrors: { scopes: ["invalid scope(s) Customers:view, customers:delete, *: use {resource}:view, {resource}:write or api:manage"] },
    });
    await expect(refused({ name: "x".repeat(101) })).rejects.toMatchObject({ fieldErrors: { name: ["must be 1-100 characters"] } });
    await expect(refused({ expiresAt: at(-1) })).rejects.toMatchObject({ fieldErrors: { expiresAt: ["must be in the future"] } });
    for (const good of [{ scopes: ["a:view"] }, { scopes: ["some_thing:write"] }]) expect((await refused(good)).scopes).toEqual(good.scopes);
    expect(await keyCount()).toBe(before + 2);
    await expect(service(T0).create({ orgId: "org_unknown", scopes: ["customers:view"] })).rejects.toMatchObject({ statusCode: 404, message: "org not found" });
    expect(await keyCount()).toBe(before + 2);
  });

  it("revoke: the time of the first revocation is kept; an unknown key is a 404", async () => {
    const bank = await ctx.tenant();
    expect(await service(at(5)).revoke(bank.keyId)).toEqual({ id: bank.keyId, revokedAt: at(5).toISOString() });
    expect(await service(at(9)).revoke(bank.keyId)).toEqual({ id: bank.keyId, revokedAt: at(5).toISOString() });
    await expect(service(T0).revoke("key_unknown")).rejects.toMatchObject({ statusCode: 404, message: "API key not found" });
  });

  it("authenticate: what a key stands for, its org's capability and negotiated limits, any case of the scheme", async () => {
    const bank = await ctx.tenant({ dukcapil: false, scopes: ["customers:view", "verifications:view"], limits: { "identity.kyc.read": 7 } });
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      expect(await service(T0).authenticate(`${scheme} ${bank.key}`)).toEqual({
        keyId: bank.keyId,
        keyPrefix: bank.key.slice(0, 18),
        env: "sandbox",
        scopes: new Set(["customers:view", "verifications:view"]),
        orgId: bank.orgId,
        capabilities: { dukcapilEnabled: false },
        rateLimits: { "identity.kyc.read": 7 },
      });
    }
    expect((await service(T0).authenticate(`Bearer ${(await ctx.tenant()).key}`)).capabilities).toEqual({ dukcapilEnabled: true });
  });

  it("authenticate: one 401 for every failure; WWW-Authenticate says invalid_token only when a Bearer token came", async () => {
    const bank = await ctx.tenant();
    const revoked = await ctx.tenant();
    await service(T0).revoke(revoked.keyId);
    const challenge = async (authorization: string | undefined) => {
      const e = await service(T0).authenticate(authorization).then(() => undefined, (err: unknown) => err);
      expect(e, String(authorization)).toMatchObject({ statusCode: 401, code: "unauthorized", message: "missing or invalid Bearer" });
      return (e as { headers: Record<string, string> }).headers["www-authenticate"];
    };
    const invalid = 'Bearer error="invalid_token"';
    expect(await challenge(undefined)).toBe("Bearer");
    expect(await challenge("")).toBe("Bearer");
    expect(await challenge(`Basic ${bank.key}`)).toBe("Bearer");
    expect(await challenge(`Bearer${bank.key}`)).toBe("Bearer");
    expect(await challenge("Bearer")).toBe(invalid);
    expect(await challenge("Bearer ")).toBe(invalid);
    expect(await challenge(`Bearer  ${bank.key}`)).toBe(invalid);
    expect(await challenge(`Bearer ${bank.key} x`)).toBe(invalid);
    expect(await challenge(`Bearer x${bank.key}`)).toBe(invalid);
    expect(await challenge(`Bearer ${bank.key.replace(/.$/, (c) => (c === "A" ? "B" : "A"))}`)).toBe(invalid);
    expect(await challenge(`Bearer ${revoked.key}`)).toBe(invalid);
  });

  it("authenticate: a key is good until the millisecond before it expires", async () => {
    const bank = await ctx.tenant();
    const key = await service(T0).create({ orgId: bank.orgId, scopes: ["customers:view"], expiresAt: at(1000) });
    expect((await service(at(999)).authenticate(`Bearer ${key.key}`)).keyId).toBe(key.id);
    await expect(service(at(1000)).authenticate(`Bearer ${key.key}`)).rejects.toMatchObject({ statusCode: 401 });
    await expect(service(at(1001)).authenticate(`Bearer ${key.key}`)).rejects.toMatchObject({ statusCode: 401 });
  });

  it("flushLastUsed: the last time each key authenticated, never moved backwards", async () => {
    const bank = await ctx.tenant();
    const keys = service(at(0));
    expect(await keys.flushLastUsed()).toBe(0);
    await service(at(50)).authenticate(`Bearer ${bank.key}`);
    await keys.authenticate(`Bearer ${bank.key}`);
    await keys.authenticate(`Bearer ${bank.key}`);
    expect(await keys.flushLastUsed()).toBe(1);
    expect((await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: bank.keyId } })).lastUsedAt).toEqual(at(0));
    const later = service(at(50));
    await later.authenticate(`Bearer ${bank.key}`);
    expect(await later.flushLastUsed()).toBe(1);
    expect(await later.flushLastUsed()).toBe(0);
    await keys.authenticate(`Bearer ${bank.key}`); // an older time arriving late changes nothing
    expect(await keys.flushLastUsed()).toBe(0);
    expect((await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: bank.keyId } })).lastUsedAt).toEqual(at(50));
  });
});
