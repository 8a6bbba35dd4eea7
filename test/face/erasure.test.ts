// Erasure on request (admin customer erase) with real templates and real selfies (the real face engine), on a
// real database, read back through HTTP: the customer's sealed photos, templates, selfies and raw envelopes
// are gone from a dump of the database, the decision record is unchanged, every read shows the erasure, and
// no other customer (same org or another) loses a byte.
import { setBPhoto } from "./eval-set.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdminCommand } from "../../src/cli/commands.js";
import { FACE_TEMPLATE_MODEL_ID } from "../../src/face/pipeline.js";
import { startFaceTemplateEngine, type FaceTemplateEngine } from "../../src/face/template-engine.js";
import type { FaceTemplater } from "../../src/face/engine.js";
import { createFaceMatchService } from "../../src/modules/face-match/face-match-service.js";
import { enrolmentsDal } from "../../src/modules/enrolments/enrolments-dal.js";
import { newId } from "../../src/ids.js";
import { createTestContext, type Tenant, type TestContext } from "../helpers/app.js";
import { testDbKind } from "../helpers/db.js";
import { b64 } from "../helpers/images.js";

const run = promisify(execFile);
const MATCH = "/api/identity/face/match";
const INGEST = "/api/identity/nik/dukcapil";
let engine: FaceTemplateEngine;
let ctx: TestContext;
let bank: Tenant;
let other: Tenant;
let manA: Buffer; // the registry's photo
let manA2: Buffer; // the same man's second registry photo (a later verdict)
let manB: Buffer; // the same man, years apart: the selfie

beforeAll(async () => {
  engine = startFaceTemplateEngine({ workers: 1, timeoutMs: 20_000 });
  ctx = await createTestContext({ face: engine });
  const limits = { "identity.nik.dukcapil": 10_000, "identity.face.match": 10_000, "identity.kyc.read": 10_000 };
  bank = await ctx.tenant({ limits });
  other = await ctx.tenant({ limits });
  [manA, manA2, manB] = await Promise.all([setBPhoto("r1c01"), setBPhoto("r1c03"), setBPhoto("r1c02"), engine.ready]);
});
afterAll(async () => {
  await ctx?.close();
  await engine?.close();
});

const admin = (argv: string[]) => runAdminCommand(ctx.services, argv);
const kyc = (t: Tenant, customerId: string) => ctx.app.inject({ method: "GET", url: `/api/identity/kyc/${customerId}`, headers: t.auth });

interface Seeded {
  customerId: string;
  raws: string[];
}

/** Two verified verdicts (two enrolments with templates, the first superseded), two matches (selfies), a declined verdict: every kind of content. */
async function seedCustomer(t: Tenant, tag: string): Promise<Seeded> {
  const customerId = await t.customer();
  const raws = [`{"nik":"3171${tag}01","result":"MATCH"}`, `{"nik":"3171${tag}02","result":"MATCH"}`, `{"nik":"3171${tag}03","result":"NOT_FOUND"}`];
  for (const [raw, photo] of [[raws[0], manA], [raws[1], manA2]] as const) {
    const res = await t.post(INGEST, `{"customerId":"${customerId}","valid":true,"photo":"${b64(photo)}","raw":${raw}}`);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().enrolment.fallbackStub).toBe(false);
  }
  for (let i = 0; i < 2; i++) expect((await t.post(MATCH, { customerId, photo: b64(manB) })).json().verification.status).toBe("verified");
  expect((await t.post(INGEST, `{"customerId":"${customerId}","valid":false,"reason":"NIK not found","raw":${raws[2]}}`)).statusCode).toBe(201);
  return { customerId, raws };
}

/** Everything stored about a customer, as the database has it. */
async function stateOf(customerId: string) {
  const p = ctx.prisma;
  return {
    customer: await p.customer.findUniqueOrThrow({ where: { id: customerId } }),
    verifications: await p.verification.findMany({ where: { customerId }, orderBy: { id: "asc" } }),
    enrolments: await p.faceEnrolment.findMany({ where: { customerId }, orderBy: { id: "asc" } }),
    selfies: await p.faceMatchSelfie.findMany({ where: { customerId }, orderBy: { verificationId: "asc" } }),
    tierEvents: await p.tierEvent.findMany({ where: { customerId }, orderBy: { id: "asc" } }),
    audits: await p.auditAccess.findMany({ where: { verificationId: { in: (await p.verification.findMany({ where: { customerId }, select: { id: true } })).map((v) => v.id) } }, orderBy: { id: "asc" } }),
  };
}
type State = Awaited<ReturnType<typeof stateOf>>;

/** Every sealed value of a customer (the exact ciphertexts), and the plaintexts they hold. */
function contentOf(s: State) {
  const sealed: Buffer[] = [];
  for (const e of s.enrolments) for (const b of [e.photoSealed, e.templateSealed]) if (b) sealed.push(Buffer.from(b));
  for (const x of s.selfies) if (x.selfieSealed) sealed.push(Buffer.from(x.selfieSealed));
  for (const v of s.verifications) if (v.rawSealed) sealed.push(Buffer.from(v.rawSealed));
  return sealed;
}

/**
 * The whole database as text. PostgreSQL: pg_dump of the test database (every table, every row). PGlite: no
 * pg_dump runs against it, so every value of every bytea, text and json column of every table, read in full.
 * (Its data-directory files are no proof either way: they keep old row versions and WAL; see SECURITY.md.)
 */
async function dumpDatabase(): Promise<Buffer> {
  if (testDbKind === "postgres") {
    const { stdout } = await run("pg_dump", ["--no-owner", ctx.db.url!], { maxBuffer: 512 * 1024 * 1024, encoding: "buffer" });
    return stdout as unknown as Buffer;
  }
  const columns = await ctx.prisma.$queryRawUnsafe<{ table_name: string; column_name: string; data_type: string }[]>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
     WHERE table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND data_type IN ('bytea', 'text', 'jsonb', 'json', 'ARRAY')`,
  );
  const parts: Buffer[] = [];
  for (const c of columns) {
    const rows = await ctx.prisma.$queryRawUnsafe<{ v: unknown }[]>(`SELECT "${c.column_name}" AS v FROM "${c.table_name}"`);
    for (const { v } of rows) {
      if (v instanceof Uint8Array) parts.push(Buffer.from(v), Buffer.from(Buffer.from(v).toString("hex")));
      else if (v !== null) parts.push(Buffer.from(typeof v === "string" ? v : JSON.stringify(v)));
    }
  }
  return Buffer.concat(parts);
}

/** Whether the dump holds the bytes (as pg_dump writes bytea: hex), or a distinctive stretch of them. */
const holds = (dump: Buffer, bytes: Buffer) => {
  const probe = bytes.length > 96 ? bytes.subarray(bytes.length - 64) : bytes; // a tail: the AES-GCM body and tag
  return dump.includes(probe) || dump.includes(Buffer.from(probe.toString("hex")));
};

const erasureTotal = async (kind: string) => {
  const { values } = await ctx.app.metrics.registry.getSingleMetric("identity_erased_total")!.get();
  return values.find((v) => v.labels.kind === kind && v.labels.trigger === "request")?.value ?? 0;
};

describe("admin customer erase", () => {
  let target: Seeded;
  let neighbour: Seeded;
  let foreign: Seeded;
  let before: State;
  let out: { customerId: string; erasedAt: string; erased: Record<string, number> };

  beforeAll(async () => {
    [target, neighbour, foreign] = [await seedCustomer(bank, "01"), await seedCustomer(bank, "02"), await seedCustomer(other, "03")];
    const firstRaw = (await ctx.prisma.verification.findFirstOrThrow({ where: { customerId: target.customerId, method: "nik_dukcapil", status: "verified" }, orderBy: { id: "asc" } })).id;
    await admin(["audit", "show", "--verification", firstRaw, "--reason", "before the erasure", "--actor", "siti"]);
    before = await stateOf(target.customerId);
  }, 120_000);

  it("removes every sealed photo, template, selfie and raw envelope of the customer: the database dump holds none of their bytes", async () => {
    const sealed = contentOf(before);
    expect(sealed).toHaveLength(2 + 2 + 2 + 3); // photos, templates, selfies, raw
    const plain = [manA, manA2, manB, ...target.raws.map((r) => Buffer.from(r))];
    const neighbours = [...contentOf(await stateOf(neighbour.customerId)), ...contentOf(await stateOf(foreign.customerId))];
    const dumpBefore = await dumpDatabase();
    for (const b of [...sealed, ...neighbours]) expect(holds(dumpBefore, b)).toBe(true); // the check can see them

    const metricsBefore = { photos: await erasureTotal("photos"), raw: await erasureTotal("raw") };
    out = (await admin(["customer", "erase", "--customer", target.customerId, "--reason", "UU PDP art. 8 request #4711", "--actor", "dpo.bank-a"])) as typeof out;
    expect(out).toEqual({ customerId: target.customerId, erasedAt: expect.any(String), erased: { photos: 2, templates: 2, selfies: 2, raw: 3 } });
    expect(new Date(out.erasedAt).toISOString()).toBe(out.erasedAt);

    const dump = await dumpDatabase();
    for (const b of sealed) expect(holds(dump, b), "an erased ciphertext is still in the dump").toBe(false);
    for (const b of plain) expect(holds(dump, b), "a plaintext is in the dump").toBe(false);
    for (const b of neighbours) expect(holds(dump, b), "another customer's content went too").toBe(true);
    // the metrics count what was erased
    expect(await erasureTotal("photos")).toBe(metricsBefore.photos + 2);
    expect(await erasureTotal("raw")).toBe(metricsBefore.raw + 3);
  });

  it("keeps the decision record whole: verifications, tier, tier history, audit records and enrolment rows as they were, but for the erasure columns", async () => {
    const after = await stateOf(target.customerId);
    const at = new Date(out.erasedAt);
    expect(after.customer).toEqual(before.customer);
    expect(after.tierEvents).toEqual(before.tierEvents);
    expect(after.audits).toEqual(before.audits);
    expect(after.verifications).toEqual(before.verifications.map((v) => (v.rawSealed ? { ...v, rawSealed: null, rawErasedAt: at } : v)));
    expect(after.enrolments).toEqual(before.enrolments.map((e) => ({ ...e, photoSealed: null, templateSealed: null, erasedAt: at })));
    expect(after.selfies).toEqual(before.selfies.map((s) => ({ ...s, selfieSealed: null, erasedAt: at })));
    expect(after.enrolments.every((e) => e.templateModel === FACE_TEMPLATE_MODEL_ID && !e.fallbackStub)).toBe(true);
  });

  it("is on record in the erasure log (who, when, why, counts), newest first", async () => {
    const log = (await admin(["erasure", "log", "--customer", target.customerId])) as { data: unknown[]; truncated: boolean };
    expect(log).toEqual({
      data: [
        {
          id: expect.stringMatching(/^era_[0-9A-Z]{26}$/),
          orgId: bank.orgId,
          customerId: target.customerId,
          actor: "dpo.bank-a",
          reason: "UU PDP art. 8 request #4711",
          createdAt: out.erasedAt,
          erased: { photos: 2, templates: 2, selfies: 2, raw: 3 },
        },
      ],
      truncated: false,
    });
  });

  it("every read shows the erasure: KYC detail, face match, audit show", async () => {
    const res = await kyc(bank, target.customerId);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.verifications).toHaveLength(5); // every decision is still listed
    expect(body.customer.kycLevel).toBe("premium");
    expect(body.references).toHaveLength(2);
    for (const r of body.references) expect(r).toMatchObject({ erasedAt: out.erasedAt, model: FACE_TEMPLATE_MODEL_ID });

    const snapshot = async () => [await ctx.prisma.verification.count(), await ctx.prisma.faceMatchSelfie.count(), await ctx.prisma.faceEnrolment.count()];
    const counts = await snapshot();
    const match = await bank.post(MATCH, { customerId: target.customerId, photo: b64(manB) });
    expect(match.statusCode).toBe(409);
    expect(match.json()).toMatchObject({ code: "no_face_reference" });
    expect(await snapshot()).toEqual(counts);

    const raw = before.verifications.find((v) => v.rawSealed)!.id;
    const accesses = await ctx.prisma.auditAccess.count({ where: { verificationId: raw } });
    await expect(admin(["audit", "show", "--verification", raw, "--reason", "case 4711 follow-up", "--actor", "siti"])).rejects.toThrow(
      `the raw envelope of verification ${raw} was erased at ${out.erasedAt}`,
    );
    // the attempt is on record: someone looked for erased content, and why
    expect(await ctx.prisma.auditAccess.count({ where: { verificationId: raw } })).toBe(accesses + 1);
  });

  it("a second run erases nothing more, prints zeros, and is recorded too", async () => {
    const again = (await admin(["customer", "erase", "--customer", target.customerId, "--reason", "confirming", "--actor", "dpo.bank-a"])) as typeof out;
    expect(again.erased).toEqual({ photos: 0, templates: 0, selfies: 0, raw: 0 });
    const log = (await admin(["erasure", "log", "--customer", target.customerId])) as { data: { reason: string }[] };
    expect(log.data.map((r) => r.reason)).toEqual(["confirming", "UU PDP art. 8 request #4711"]);
  });

  it("another customer of the same org, and one of another org, keep every byte", async () => {
    for (const s of [neighbour, foreign]) {
      const st = await stateOf(s.customerId);
      expect(st.enrolments.every((e) => e.photoSealed && e.templateSealed && e.erasedAt === null)).toBe(true);
      expect(st.selfies.every((x) => x.selfieSealed && x.erasedAt === null)).toBe(true);
      expect(st.verifications.filter((v) => v.rawSealed)).toHaveLength(3);
      const owner = s === foreign ? other : bank;
      expect((await owner.post(MATCH, { customerId: s.customerId, photo: b64(manB) })).json().verification.status).toBe("verified");
    }
  });

  it("a new verdict after the erasure enrols a new reference normally, and matching works again", async () => {
    const res = await bank.post(INGEST, { customerId: target.customerId, valid: true, photo: b64(manA) });
    expect(res.statusCode).toBe(201);
    expect(res.json().enrolment.fallbackStub).toBe(false);
    const match = await bank.post(MATCH, { customerId: target.customerId, photo: b64(manB) });
    expect(match.statusCode).toBe(201);
    expect(match.json()).toMatchObject({ verification: { status: "verified" }, reference: { id: res.json().enrolment.id, source: "dukcapil" } });
    const refs = (await kyc(bank, target.customerId)).json().references;
    expect(refs[0]).toMatchObject({ id: res.json().enrolment.id, erasedAt: null, supersededAt: null });
    expect(refs.slice(1).every((r: { erasedAt: string | null }) => r.erasedAt === out.erasedAt)).toBe(true);
    // and the new content is the customer's again until erased: a rerun erases exactly that
    const third = (await admin(["customer", "erase", "--customer", target.customerId, "--reason", "second request", "--actor", "dpo"])) as typeof out;
    expect(third.erased).toEqual({ photos: 1, templates: 1, selfies: 1, raw: 0 });
  });

  it("refusals erase nothing: an unknown customer, no reason", async () => {
    const s = await seedCustomer(bank, "04");
    const st = await stateOf(s.customerId);
    const records = await ctx.prisma.erasureRecord.count();
    await expect(admin(["customer", "erase", "--customer", "cnotacustomer00000000000000", "--reason", "x", "--actor", "a"])).rejects.toThrow("customer not found");
    await expect(admin(["customer", "erase", "--customer", s.customerId, "--actor", "a"])).rejects.toThrow(/--reason is required/);
    await expect(admin(["customer", "erase", "--customer", s.customerId, "--reason", "   ", "--actor", "a"])).rejects.toThrow(/--reason is required/);
    await expect(admin(["customer", "erase", "--reason", "x"])).rejects.toThrow(/--customer is required/);
    expect(await stateOf(s.customerId)).toEqual(st);
    expect(await ctx.prisma.erasureRecord.count()).toBe(records);
  });
});

describe("a face match racing an erasure", () => {
  it("a match that chose its reference before the erasure, and commits after it, is refused and leaves no selfie", async () => {
    // The reference is a stub, so the match re-templates it after choosing it; the erasure runs right then.
    const customerId = await bank.customer();
    const id = newId.faceEnrolment();
    const at = new Date();
    await enrolmentsDal.create(ctx.prisma, {
      ...{ id, orgId: bank.orgId, customerId, verificationId: null, source: "dukcapil", mediaType: "image/jpeg", width: 256, height: 256 },
      ...{ photoSealed: new Uint8Array(ctx.sealer.seal(manA, { purpose: "face_enrolment.photo", rowId: id })), createdAt: at },
      ...{ fallbackStub: true, fallbackCause: "engine_off", templateSealed: null, templateModel: null },
    });
    let matchCalls = 0;
    const racing: FaceTemplater = {
      model: engine.model,
      capacity: engine.capacity,
      detect: (photo, o) => engine.detect(photo, o),
      async template(photo, o) {
        if (o?.priority === "match" && ++matchCalls === 2) {
          await admin(["customer", "erase", "--customer", customerId, "--reason", "race", "--actor", "t"]); // the reference's re-template
        }
        return engine.template(photo, o);
      },
      close: async () => {},
    };
    const service = createFaceMatchService({ prisma: ctx.prisma, sealer: ctx.sealer, face: racing });
    await expect(service.match({ orgId: bank.orgId, apiKeyId: bank.keyId, requestId: "req_race_000001", customerId, photo: b64(manB) })).rejects.toMatchObject({
      statusCode: 409,
      code: "no_face_reference",
    });
    expect(matchCalls).toBe(2);
    expect(await ctx.prisma.faceMatchSelfie.count({ where: { customerId } })).toBe(0);
    expect(await ctx.prisma.verification.count({ where: { customerId } })).toBe(0);
    expect(await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id } })).toMatchObject({ photoSealed: null, templateSealed: null, fallbackStub: true });
  });
});

describe("maintenance after erasures", () => {
  it("re-templating skips erased enrolments (no photo to make one from), and key rotation finds nothing erased to re-seal", async () => {
    // the race above left an erased stub in this org, the only stub it has
    expect(await ctx.prisma.faceEnrolment.count({ where: { orgId: bank.orgId, fallbackStub: true, erasedAt: { not: null } } })).toBeGreaterThan(0);
    expect(await admin(["enrolments", "retemplate", "--org", bank.orgId, "--stubs-only"])).toMatchObject({ scanned: 0, templated: 0, complete: true });
    const rewrap = (await admin(["keys", "rewrap"])) as { remaining: Record<string, number>; alreadyCurrent: Record<string, number> };
    expect(rewrap.remaining).toEqual({ photos: 0, templates: 0, raw: 0, selfies: 0 });
    expect(rewrap.alreadyCurrent.photos).toBe(await ctx.prisma.faceEnrolment.count({ where: { photoSealed: { not: null } } }));
    expect(rewrap.alreadyCurrent.selfies).toBe(await ctx.prisma.faceMatchSelfie.count({ where: { selfieSealed: { not: null } } }));
  });
});
