// API keys: random, shown once, stored as SHA-256 only, looked up by hash; revocation takes effect on the next
// request; last-used times are batched in memory and written in one statement, never once per request.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdminCommand } from "../../src/cli/commands.js";
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
