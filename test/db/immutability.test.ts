// Evidence rows (verifications, tier events, audit-access records, erasure records) cannot be changed or
// deleted once written: the migrations' triggers refuse it on both databases. On verifications exactly two
// changes are allowed: re-sealing raw under a new key and clearing raw by erasure (with its time). Enrolments
// may be superseded, re-templated, re-sealed and erased; selfies re-sealed and erased; nothing else.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg, png } from "../helpers/images.js";
import { runAdminCommand } from "../../src/cli/commands.js";
import { newId } from "../../src/ids.js";
import { faceMatchSelfiesDal } from "../../src/modules/face-match/face-match-dal.js";
import { verificationsDal } from "../../src/modules/verifications/verifications-dal.js";

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

// ------------------------------------------------------------------------------------- erasure rules

interface Column {
  name: string;
  dataType: string;
  udt: string;
}

async function columnsOf(table: string): Promise<Column[]> {
  const rows = await ctx.prisma.$queryRawUnsafe<{ column_name: string; data_type: string; udt_name: string }[]>(
    `SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    table,
  );
  return rows.map((r) => ({ name: r.column_name, dataType: r.data_type, udt: r.udt_name }));
}

/** An SQL expression for a value other than the column's current one, whatever its type. */
function otherValue(c: Column): string {
  const col = `"${c.name}"`;
  switch (c.dataType) {
    case "text":
      return `COALESCE(${col}, '') || 'x'`;
    case "integer":
      return `COALESCE(${col}, 0) + 1`;
    case "boolean":
      return `NOT COALESCE(${col}, false)`;
    case "bytea":
      return `COALESCE(${col}, ''::bytea) || '\\x00'::bytea`;
    case "timestamp with time zone":
      return `COALESCE(${col}, now()) - interval '1 second'`;
    case "USER-DEFINED": // an enum: another label of it
      return `(SELECT e.enumlabel::"${c.udt}" FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = '${c.udt}' AND e.enumlabel <> COALESCE(${col}::text, '') ORDER BY e.enumsortorder LIMIT 1)`;
    default:
      throw new Error(`no other-value rule for ${c.name} (${c.dataType})`);
  }
}

const refused = (table: string) => new RegExp(`${table} rows are immutable: UPDATE refused`);
const erasedAt = "'2026-12-01T10:00:00.000Z'::timestamptz";

async function verdictWithRaw(): Promise<{ customerId: string; verificationId: string; enrolmentId: string }> {
  const c = await bank.customer();
  const res = await bank.post(INGEST, { customerId: c, valid: true, photo: b64(await jpeg(200, 240)), raw: { registry: "dukcapil", result: "MATCH" } });
  expect(res.statusCode).toBe(201);
  return { customerId: c, verificationId: res.json().verification.id, enrolmentId: res.json().enrolment.id };
}

async function faceMatchSelfie(customerId: string, referenceEnrolmentId: string): Promise<string> {
  const id = newId.verification();
  const at = new Date();
  await verificationsDal.create(ctx.prisma, {
    ...{ id, orgId: bank.orgId, customerId, method: "face_match", status: "failed", score: 10, reason: null, rawSealed: null },
    ...{ apiKeyId: null, requestId: null, createdAt: at, referenceEnrolmentId, matchModel: "test/1", matchThreshold: 40 },
  });
  const selfieSealed = new Uint8Array(ctx.sealer.seal(Buffer.from("selfie bytes"), { purpose: "face_match.selfie", rowId: id }));
  await faceMatchSelfiesDal.create(ctx.prisma, { verificationId: id, orgId: bank.orgId, customerId, selfieSealed, mediaType: "image/jpeg", width: 64, height: 64, createdAt: at });
  return id;
}

const row = (table: string, idColumn: string, id: string) =>
  ctx.prisma.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM ${table} WHERE ${idColumn} = $1`, id).then((r) => r[0]!);

describe("verifications: erasure is the one new change allowed", () => {
  it("clearing raw together with raw_erased_at is allowed, and changes nothing else in the row", async () => {
    const { verificationId: id } = await verdictWithRaw();
    const before = await row("verifications", "id", id);
    expect(before.raw_sealed).not.toBeNull();
    expect(await exec(`UPDATE verifications SET raw_sealed = NULL, raw_erased_at = ${erasedAt} WHERE id = $1`, id)).toBe(1);
    const after = await row("verifications", "id", id);
    expect(after).toEqual({ ...before, raw_sealed: null, raw_erased_at: new Date("2026-12-01T10:00:00.000Z") });
  });

  it("every column, changed alone, with an erasure or with a re-seal, is refused (every column of the table is tried)", async () => {
    const { verificationId: id } = await verdictWithRaw();
    const columns = await columnsOf("verifications");
    expect(columns.map((c) => c.name)).toEqual(expect.arrayContaining(["id", "org_id", "customer_id", "method", "status", "score", "reason", "raw_sealed", "raw_erased_at", "api_key_id", "request_id", "reference_enrolment_id", "match_model", "match_threshold", "created_at"]));
    const before = await row("verifications", "id", id);
    const resealed = new Uint8Array(ctx.sealer.seal(Buffer.from('{"registry":"dukcapil"}'), { purpose: "verification.raw", rowId: id }));
    let tried = 0;
    for (const c of columns.filter((c) => c.name !== "raw_sealed" && c.name !== "raw_erased_at")) {
      const set = `"${c.name}" = ${otherValue(c)}`;
      for (const sql of [
        `UPDATE verifications SET ${set} WHERE id = $1`,
        `UPDATE verifications SET raw_sealed = NULL, raw_erased_at = ${erasedAt}, ${set} WHERE id = $1`,
      ]) {
        await expect(exec(sql, id), sql).rejects.toThrow(refused("verifications"));
        tried++;
      }
      const sql = `UPDATE verifications SET raw_sealed = $2, ${set} WHERE id = $1`;
      await expect(exec(sql, id, resealed), sql).rejects.toThrow(refused("verifications"));
      tried++;
    }
    expect(tried).toBeGreaterThanOrEqual(39);
    expect(await row("verifications", "id", id)).toEqual(before);
  });

  it("half an erasure, an erasure time alone, and any change to an erased envelope are refused", async () => {
    const { verificationId: id } = await verdictWithRaw();
    const plain = Buffer.from('{"registry":"dukcapil"}');
    const sealed = new Uint8Array(ctx.sealer.seal(plain, { purpose: "verification.raw", rowId: id }));
    for (const sql of [
      "UPDATE verifications SET raw_sealed = NULL WHERE id = $1", // no erasure time
      `UPDATE verifications SET raw_erased_at = ${erasedAt} WHERE id = $1`, // raw kept
      `UPDATE verifications SET raw_sealed = NULL, raw_erased_at = ${erasedAt}, score = 0 WHERE id = $1`, // erasure and more
    ]) {
      await expect(exec(sql, id), sql).rejects.toThrow(refused("verifications"));
    }
    await exec(`UPDATE verifications SET raw_sealed = NULL, raw_erased_at = ${erasedAt} WHERE id = $1`, id);
    const erased = await row("verifications", "id", id);
    for (const [sql, params] of [
      ["UPDATE verifications SET raw_sealed = $2 WHERE id = $1", [sealed]], // raw back
      ["UPDATE verifications SET raw_sealed = $2, raw_erased_at = NULL WHERE id = $1", [sealed]], // un-erased
      ["UPDATE verifications SET raw_erased_at = NULL WHERE id = $1", []],
      ["UPDATE verifications SET raw_erased_at = raw_erased_at + interval '1 day' WHERE id = $1", []], // re-dated
      [`UPDATE verifications SET raw_sealed = NULL, raw_erased_at = ${erasedAt} WHERE id = $1`, []], // erased twice
    ] as const) {
      await expect(exec(sql, id, ...params), sql).rejects.toThrow(refused("verifications"));
    }
    // a verification that never had an envelope cannot be marked erased
    const declined = (await bank.post(INGEST, { customerId: await bank.customer(), valid: false })).json().verification.id;
    await expect(exec(`UPDATE verifications SET raw_erased_at = ${erasedAt} WHERE id = $1`, declined)).rejects.toThrow(refused("verifications"));
    // through the ORM as well
    await expect(ctx.prisma.verification.update({ where: { id }, data: { rawErasedAt: null } })).rejects.toThrow(/immutable/);
    expect(await row("verifications", "id", id)).toEqual(erased);
  });
});

describe("face_enrolments: superseded, re-templated, re-sealed or erased, nothing else", () => {
  const DESCRIPTIVE = ["id", "org_id", "customer_id", "verification_id", "source", "media_type", "width", "height", "created_at"];

  it("every descriptive column is refused, alone and beside an allowed change; supersede, re-template, re-seal and erasure are allowed", async () => {
    const { enrolmentId: id } = await verdictWithRaw();
    const columns = (await columnsOf("face_enrolments")).filter((c) => DESCRIPTIVE.includes(c.name));
    expect(columns.map((c) => c.name).sort()).toEqual([...DESCRIPTIVE].sort());
    const before = await row("face_enrolments", "id", id);
    for (const c of columns) {
      const set = `"${c.name}" = ${otherValue(c)}`;
      for (const sql of [
        `UPDATE face_enrolments SET ${set} WHERE id = $1`,
        `UPDATE face_enrolments SET superseded_at = now(), ${set} WHERE id = $1`,
        `UPDATE face_enrolments SET template_model = 'm2', ${set} WHERE id = $1`,
        `UPDATE face_enrolments SET photo_sealed = NULL, template_sealed = NULL, erased_at = ${erasedAt}, ${set} WHERE id = $1`,
      ]) {
        await expect(exec(sql, id), sql).rejects.toThrow(refused("face_enrolments"));
      }
    }
    expect(await row("face_enrolments", "id", id)).toEqual(before);

    // the allowed changes
    const photo = ctx.sealer.open(before.photo_sealed as Uint8Array, { purpose: "face_enrolment.photo", rowId: id });
    const resealed = new Uint8Array(ctx.sealer.seal(photo, { purpose: "face_enrolment.photo", rowId: id }));
    expect(await exec("UPDATE face_enrolments SET photo_sealed = $2 WHERE id = $1", id, resealed)).toBe(1);
    const template = new Uint8Array(ctx.sealer.seal(Buffer.alloc(64, 1), { purpose: "face_enrolment.template", rowId: id }));
    expect(await exec("UPDATE face_enrolments SET template_sealed = $2, template_model = 'm2', fallback_stub = false, fallback_cause = NULL WHERE id = $1", id, template)).toBe(1);
    // a photo goes only by erasure, photo and template together
    for (const sql of [
      "UPDATE face_enrolments SET photo_sealed = NULL WHERE id = $1",
      "UPDATE face_enrolments SET photo_sealed = NULL, template_sealed = NULL WHERE id = $1",
      `UPDATE face_enrolments SET photo_sealed = NULL, erased_at = ${erasedAt} WHERE id = $1`,
      `UPDATE face_enrolments SET template_sealed = NULL, erased_at = ${erasedAt} WHERE id = $1`,
      `UPDATE face_enrolments SET erased_at = ${erasedAt} WHERE id = $1`,
      `UPDATE face_enrolments SET photo_sealed = NULL, template_sealed = NULL, erased_at = ${erasedAt}, template_model = NULL WHERE id = $1`,
      `UPDATE face_enrolments SET photo_sealed = NULL, template_sealed = NULL, erased_at = ${erasedAt}, fallback_stub = true WHERE id = $1`,
    ]) {
      await expect(exec(sql, id), sql).rejects.toThrow(refused("face_enrolments"));
    }
    expect(await exec(`UPDATE face_enrolments SET photo_sealed = NULL, template_sealed = NULL, erased_at = ${erasedAt} WHERE id = $1`, id)).toBe(1);
    const erased = await row("face_enrolments", "id", id);
    expect(erased).toMatchObject({ photo_sealed: null, template_sealed: null, template_model: "m2", width: before.width, source: before.source });

    // erased for good: nothing comes back, nothing is re-dated, its description stays
    for (const [sql, params] of [
      ["UPDATE face_enrolments SET photo_sealed = $2 WHERE id = $1", [resealed]],
      ["UPDATE face_enrolments SET template_sealed = $2 WHERE id = $1", [template]],
      ["UPDATE face_enrolments SET photo_sealed = $2, erased_at = NULL WHERE id = $1", [resealed]],
      ["UPDATE face_enrolments SET erased_at = NULL WHERE id = $1", []],
      ["UPDATE face_enrolments SET erased_at = now() WHERE id = $1", []],
      ["UPDATE face_enrolments SET template_model = 'm3' WHERE id = $1", []],
      ["UPDATE face_enrolments SET fallback_stub = true, fallback_cause = 'no_face' WHERE id = $1", []],
    ] as const) {
      await expect(exec(sql, id, ...params), sql).rejects.toThrow(refused("face_enrolments"));
    }
    // a new verdict still supersedes it (once)
    expect(await exec("UPDATE face_enrolments SET superseded_at = now(), superseded_by_id = 'fe_next' WHERE id = $1", id)).toBe(1);
    await expect(exec("UPDATE face_enrolments SET superseded_by_id = 'fe_other' WHERE id = $1", id)).rejects.toThrow(refused("face_enrolments"));
    await expect(exec("UPDATE face_enrolments SET superseded_at = NULL WHERE id = $1", id)).rejects.toThrow(refused("face_enrolments"));
  });

  it("DELETE and TRUNCATE are refused", async () => {
    const { enrolmentId: id } = await verdictWithRaw();
    await expect(exec("DELETE FROM face_enrolments WHERE id = $1", id)).rejects.toThrow(/face_enrolments rows are immutable: DELETE refused/);
    await expect(exec("TRUNCATE face_enrolments CASCADE")).rejects.toThrow(/immutable: TRUNCATE refused/);
    expect(await ctx.prisma.faceEnrolment.count({ where: { id } })).toBe(1);
  });
});

describe("face_match_selfies: re-sealed or erased, nothing else", () => {
  it("every column is refused; a re-seal and an erasure are allowed; an erased selfie never changes again", async () => {
    const { customerId, enrolmentId } = await verdictWithRaw();
    const id = await faceMatchSelfie(customerId, enrolmentId);
    const before = await row("face_match_selfies", "verification_id", id);
    const resealed = new Uint8Array(ctx.sealer.seal(Buffer.from("selfie bytes"), { purpose: "face_match.selfie", rowId: id }));
    for (const c of (await columnsOf("face_match_selfies")).filter((c) => c.name !== "selfie_sealed" && c.name !== "erased_at")) {
      const set = `"${c.name}" = ${otherValue(c)}`;
      for (const [sql, params] of [
        [`UPDATE face_match_selfies SET ${set} WHERE verification_id = $1`, []],
        [`UPDATE face_match_selfies SET selfie_sealed = $2, ${set} WHERE verification_id = $1`, [resealed]],
        [`UPDATE face_match_selfies SET selfie_sealed = NULL, erased_at = ${erasedAt}, ${set} WHERE verification_id = $1`, []],
      ] as const) {
        await expect(exec(sql, id, ...params), sql).rejects.toThrow(refused("face_match_selfies"));
      }
    }
    for (const sql of ["UPDATE face_match_selfies SET selfie_sealed = NULL WHERE verification_id = $1", `UPDATE face_match_selfies SET erased_at = ${erasedAt} WHERE verification_id = $1`]) {
      await expect(exec(sql, id), sql).rejects.toThrow(refused("face_match_selfies"));
    }
    expect(await row("face_match_selfies", "verification_id", id)).toEqual(before);
    expect(await exec("UPDATE face_match_selfies SET selfie_sealed = $2 WHERE verification_id = $1", id, resealed)).toBe(1);
    expect(await exec(`UPDATE face_match_selfies SET selfie_sealed = NULL, erased_at = ${erasedAt} WHERE verification_id = $1`, id)).toBe(1);
    for (const [sql, params] of [
      ["UPDATE face_match_selfies SET selfie_sealed = $2 WHERE verification_id = $1", [resealed]],
      ["UPDATE face_match_selfies SET erased_at = NULL WHERE verification_id = $1", []],
      ["UPDATE face_match_selfies SET erased_at = now() WHERE verification_id = $1", []],
      ["UPDATE face_match_selfies SET width = width WHERE verification_id = $1", []],
    ] as const) {
      await expect(exec(sql, id, ...params), sql).rejects.toThrow(refused("face_match_selfies"));
    }
    await expect(exec("DELETE FROM face_match_selfies WHERE verification_id = $1", id)).rejects.toThrow(/face_match_selfies rows are immutable: DELETE refused/);
    await expect(exec("TRUNCATE face_match_selfies")).rejects.toThrow(/face_match_selfies rows are immutable: TRUNCATE refused/);
  });
});

describe("erasure records", () => {
  it("UPDATE, DELETE and TRUNCATE are refused", async () => {
    const { customerId } = await verdictWithRaw();
    await runAdminCommand(ctx.services, ["customer", "erase", "--customer", customerId, "--reason", "immutability test", "--actor", "t"]);
    const record = await ctx.prisma.erasureRecord.findFirstOrThrow({ where: { customerId } });
    for (const c of await columnsOf("erasure_records")) {
      await expect(exec(`UPDATE erasure_records SET "${c.name}" = ${otherValue(c)} WHERE id = $1`, record.id)).rejects.toThrow(/erasure_records rows are immutable: UPDATE refused/);
    }
    await expect(exec("DELETE FROM erasure_records WHERE id = $1", record.id)).rejects.toThrow(/erasure_records rows are immutable: DELETE refused/);
    await expect(exec("TRUNCATE erasure_records")).rejects.toThrow(/erasure_records rows are immutable: TRUNCATE refused/);
    expect(await ctx.prisma.erasureRecord.findUniqueOrThrow({ where: { id: record.id } })).toEqual(record);
  });
});
