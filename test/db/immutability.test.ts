// Evidence rows (verifications, tier events, audit-access records) cannot be changed or deleted once written:
// the migration's triggers refuse it on both databases. Only a re-seal of a raw envelope, and the enrolment
// supersede columns (their own mutable columns), may change.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg, png } from "../helpers/images.js";
import { runAdminCommand } from "../../src/cli/commands.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;
let customerId: string;
let verificationId: string;
let tierEventId: string;
let auditId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant();
  customerId = await bank.customer();
  const res = await bank.post(INGEST, { customerId, valid: true, photo: b64(await jpeg(200, 240)), raw: { registry: "dukcapil", result: "MATCH" } });
  expect(res.statusCode).toBe(201);
  verificationId = res.json().verification.id;
  tierEventId = (await ctx.prisma.tierEvent.findFirstOrThrow({ where: { customerId } })).id;
  await runAdminCommand(ctx.services, ["audit", "show", "--verification", verificationId, "--reason", "immutability test", "--actor", "t"]);
  auditId = (await ctx.prisma.auditAccess.findFirstOrThrow({ where: { verificationId } })).id;
});
afterAll(() => ctx.close());

const exec = (sql: string, ...params: unknown[]) => ctx.prisma.$executeRawUnsafe(sql, ...params);
const snapshot = async () => ({
  verification: await ctx.prisma.verification.findUniqueOrThrow({ where: { id: verificationId } }),
  tierEvent: await ctx.prisma.tierEvent.findUniqueOrThrow({ where: { id: tierEventId } }),
  audit: await ctx.prisma.auditAccess.findUniqueOrThrow({ where: { id: auditId } }),
});

describe("immutable evidence", () => {
  it("UPDATE is refused on verifications, tier_events and audit_accesses, and nothing changes", async () => {
    const before = await snapshot();
    const attempts: [string, string, unknown[]][] = [
      ["verifications", `UPDATE verifications SET status = 'failed' WHERE id = $1`, [verificationId]],
      ["verifications", `UPDATE verifications SET reason = 'edited' WHERE id = $1`, [verificationId]],
      ["verifications", `UPDATE verifications SET created_at = now() - interval '1 day' WHERE id = $1`, [verificationId]],
      ["verifications", `UPDATE verifications SET raw_sealed = NULL WHERE id = $1`, [verificationId]],
      ["tier_events", `UPDATE tier_events SET to_tier = 'premium' WHERE id = $1`, [tierEventId]],
      ["audit_accesses", `UPDATE audit_accesses SET reason = 'nothing to see' WHERE id = $1`, [auditId]],
    ];
    for (const [table, sql, params] of attempts) {
      await expect(exec(sql, ...params), sql).rejects.toThrow(new RegExp(`${table} rows are immutable: UPDATE refused`));
    }
    // through the ORM as well
    await expect(ctx.prisma.verification.update({ where: { id: verificationId }, data: { score: 1 } })).rejects.toThrow(/immutable/);
    await expect(ctx.prisma.auditAccess.updateMany({ data: { actor: "someone else" } })).rejects.toThrow(/immutable/);
    expect(await snapshot()).toEqual(before);
  });

  it("DELETE is refused on all three", async () => {
    const before = await snapshot();
    for (const [table, sql, id] of [
      ["tier_events", "DELETE FROM tier_events WHERE id = $1", tierEventId],
      ["audit_accesses", "DELETE FROM audit_accesses WHERE id = $1", auditId],
      ["verifications", "DELETE FROM verifications WHERE id = $1", verificationId],
    ] as const) {
      await expect(exec(sql, id), sql).rejects.toThrow(new RegExp(`${table} rows are immutable: DELETE refused`));
    }
    await expect(ctx.prisma.auditAccess.deleteMany({})).rejects.toThrow(/immutable/);
    expect(await snapshot()).toEqual(before);
  });

  it("a row without dependants cannot be deleted either (the trigger, not a foreign key, refuses it)", async () => {
    const other = await bank.customer();
    const res = await bank.post(INGEST, { customerId: other, valid: false, reason: "declined" });
    const id = res.json().verification.id;
    await expect(exec("DELETE FROM verifications WHERE id = $1", id)).rejects.toThrow(/verifications rows are immutable: DELETE refused/);
    expect(await ctx.prisma.verification.count({ where: { id } })).toBe(1);
  });

  it("TRUNCATE is refused on all three", async () => {
    const counts = async () => [await ctx.prisma.verification.count(), await ctx.prisma.tierEvent.count(), await ctx.prisma.auditAccess.count()];
    const before = await counts();
    await expect(exec("TRUNCATE audit_accesses")).rejects.toThrow(/audit_accesses rows are immutable: TRUNCATE refused/);
    await expect(exec("TRUNCATE tier_events")).rejects.toThrow(/tier_events rows are immutable: TRUNCATE refused/);
    // verifications is referenced by foreign keys: naming it first makes its own trigger the one that answers
    await expect(exec("TRUNCATE verifications, face_enrolments, tier_events, face_match_selfies")).rejects.toThrow(/verifications rows are immutable: TRUNCATE refused/);
    await expect(exec("TRUNCATE verifications CASCADE")).rejects.toThrow(/immutable: TRUNCATE refused/);
    expect(await counts()).toEqual(before);
  });

  it("re-sealing a raw envelope (key rotation) is the one allowed update, and it must stay sealed to its row", async () => {
    const row = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: verificationId } });
    const plain = ctx.sealer.open(row.rawSealed!, { purpose: "verification.raw", rowId: verificationId });
    const resealed = new Uint8Array(ctx.sealer.seal(plain, { purpose: "verification.raw", rowId: verificationId }));
    expect(await exec("UPDATE verifications SET raw_sealed = $1 WHERE id = $2", resealed, verificationId)).toBe(1);
    const after = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: verificationId } });
    expect(Buffer.from(after.rawSealed!).equals(Buffer.from(row.rawSealed!))).toBe(false);
    expect(ctx.sealer.open(after.rawSealed!, { purpose: "verification.raw", rowId: verificationId }).equals(plain)).toBe(true);
    const { rawSealed: _a, ...restAfter } = after;
    const { rawSealed: _b, ...restBefore } = row;
    expect(restAfter).toEqual(restBefore);
    // re-sealing together with any other change is still refused
    await expect(exec("UPDATE verifications SET raw_sealed = $1, score = 0 WHERE id = $2", resealed, verificationId)).rejects.toThrow(/immutable/);
    // a row with no envelope cannot be given one afterwards
    const declined = (await bank.post(INGEST, { customerId: await bank.customer(), valid: false })).json().verification.id;
    await expect(exec("UPDATE verifications SET raw_sealed = $1 WHERE id = $2", resealed, declined)).rejects.toThrow(/immutable/);
  });

  it("what must change later lives in mutable columns: an enrolment is superseded, the customer's tier moves", async () => {
    const second = await bank.post(INGEST, { customerId, valid: true, photo: b64(await png(200, 240)) });
    expect(second.statusCode).toBe(201);
    const rows = await ctx.prisma.faceEnrolment.findMany({ where: { customerId }, orderBy: { createdAt: "asc" } });
    expect(rows).toHaveLength(2);
    expect(rows[0]!.supersededById).toBe(rows[1]!.id);
    // and directly: supersede columns and customer tier columns accept updates
    expect(await exec("UPDATE face_enrolments SET superseded_at = now() WHERE id = $1", rows[1]!.id)).toBe(1);
    expect(await exec("UPDATE customers SET kyc_tier = 'premium' WHERE id = $1", customerId)).toBe(1);
  });
});
