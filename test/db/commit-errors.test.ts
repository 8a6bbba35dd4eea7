// An error raised by COMMIT itself (here a deferred constraint trigger) must reach the caller as a failure
// with nothing written, never as a 201 for a transaction that rolled back. The stock PGlite adapter lost
// such errors; src/db/pglite.ts fixes it. Both databases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant();
  // Checked at COMMIT, not at INSERT: the failure can only surface when the transaction commits.
  await ctx.prisma.$executeRawUnsafe(`CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.reason = 'refuse at commit' THEN RAISE EXCEPTION 'refused at commit'; END IF;
      RETURN NULL;
    END $$`);
  await ctx.prisma.$executeRawUnsafe(`CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON verifications
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()`);
});
afterAll(() => ctx.close());

describe("errors raised at COMMIT", () => {
  it("reject the interactive transaction and leave nothing behind", async () => {
    const customerId = await bank.customer();
    const before = await ctx.prisma.verification.count();
    await expect(
      ctx.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(
          `INSERT INTO verifications (id, org_id, customer_id, method, status, score, reason, created_at)
           SELECT 'ver_commit_test', org_id, id, 'nik_dukcapil', 'failed', 0, 'refuse at commit', now() FROM customers WHERE id = $1`,
          customerId,
        );
      }),
    ).rejects.toThrow(/refused at commit/);
    expect(await ctx.prisma.verification.count()).toBe(before);
    // the connection is usable afterwards (no transaction left open on PGlite's single connection)
    expect(await ctx.prisma.$queryRawUnsafe<{ ok: number }[]>("SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
  });

  it("turn a verdict into a 500 in the error shape, not a 201, with no row written", async () => {
    const customerId = await bank.customer();
    const before = { v: await ctx.prisma.verification.count(), t: await ctx.prisma.tierEvent.count() };
    const res = await bank.post(INGEST, { customerId, valid: false, reason: "refuse at commit", raw: { result: "NOT_FOUND" } });
    expect(res.statusCode).toBe(500);
    expect(res.json().code).toBe("internal");
    expect(JSON.stringify(res.json())).not.toMatch(/refused at commit/); // 5xx internals stay hidden
    expect({ v: await ctx.prisma.verification.count(), t: await ctx.prisma.tierEvent.count() }).toEqual(before);
    // and the next verdict goes through
    const ok = await bank.post(INGEST, { customerId, valid: false, reason: "declined by registry" });
    expect(ok.statusCode).toBe(201);
  });
});
