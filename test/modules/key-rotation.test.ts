// Sealing-key rotation, whole cycle: seal under k1; put k2 first (k2,k1): new seals use k2 and k1's still open;
// `admin keys rewrap`; drop k1 (k2 only): everything still opens.
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { runAdminCommand, VerbatimJson } from "../../src/cli/commands.js";
import { createSealer, type SealContext, type Sealer, type SealingKey } from "../../src/crypto/seal.js";
import { faceEngineOff } from "../../src/face/engine.js";
import { newId } from "../../src/ids.js";
import { faceMatchSelfiesDal } from "../../src/modules/face-match/face-match-dal.js";
import { verificationsDal } from "../../src/modules/verifications/verifications-dal.js";
import { createServices, type Services } from "../../src/services.js";
import { openTestDatabase, type TestDatabase } from "../helpers/db.js";
import { b64, jpeg, png } from "../helpers/images.js";

const INGEST = "/api/identity/nik/dukcapil";
const k0: SealingKey = { id: "k0", key: randomBytes(32) };
const k1: SealingKey = { id: "k1", key: randomBytes(32) };
const k2: SealingKey = { id: "k2", key: randomBytes(32) };

let db: TestDatabase;
let orgId: string;
let apiKey: string;

/** The service as a deployment with this SEALING_KEYS would run it. */
interface Deployment {
  sealer: Sealer;
  services: Services;
  app: FastifyInstance;
  post(payload: object): Promise<{ statusCode: number; json(): { verification: { id: string }; enrolment: { id: string } | null } }>;
  close(): Promise<void>;
}

async function deploy(keys: SealingKey[]): Promise<Deployment> {
  const sealer = createSealer(keys);
  const services = createServices({ prisma: db.prisma, sealer, face: faceEngineOff });
  const app = await buildApp({ prisma: db.prisma, services, logLevel: "silent" });
  await app.ready();
  return {
    sealer,
    services,
    app,
    post: (payload) =>
      app.inject({ method: "POST", url: INGEST, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, payload }),
    close: () => app.close(),
  };
}

/** Every sealed envelope in the database with the context it was sealed for. */
async function envelopes() {
  const out: { name: "photos" | "templates" | "raw" | "selfies"; ctx: SealContext; sealed: Uint8Array }[] = [];
  for (const e of await db.prisma.faceEnrolment.findMany({ orderBy: { id: "asc" } })) {
    if (e.photoSealed) out.push({ name: "photos", ctx: { purpose: "face_enrolment.photo", rowId: e.id }, sealed: e.photoSealed });
    if (e.templateSealed) out.push({ name: "templates", ctx: { purpose: "face_enrolment.template", rowId: e.id }, sealed: e.templateSealed });
  }
  for (const v of await db.prisma.verification.findMany({ where: { rawSealed: { not: null } }, orderBy: { id: "asc" } })) {
    out.push({ name: "raw", ctx: { purpose: "verification.raw", rowId: v.id }, sealed: v.rawSealed! });
  }
  for (const s of await db.prisma.faceMatchSelfie.findMany({ where: { selfieSealed: { not: null } }, orderBy: { verificationId: "asc" } })) {
    out.push({ name: "selfies", ctx: { purpose: "face_match.selfie", rowId: s.verificationId }, sealed: s.selfieSealed! });
  }
  return out;
}

/** A face template as the face engine would store it (the engine itself is not what this test is about). */
async function giveTemplate(sealer: Sealer, enrolmentId: string, template: Buffer) {
  await db.prisma.faceEnrolment.update({
    where: { id: enrolmentId },
    data: { templateSealed: new Uint8Array(sealer.seal(template, { purpose: "face_enrolment.template", rowId: enrolmentId })), templateModel: "test/1" },
  });
}

/** A face match's sealed selfie, written through the data layer as the face match service writes it. */
async function seedFaceMatch(sealer: Sealer, customerId: string, referenceEnrolmentId: string, selfie: Buffer): Promise<string> {
  const id = newId.verification();
  const at = new Date();
  await verificationsDal.create(db.prisma, {
    ...{ id, orgId, customerId, method: "face_match", status: "failed", score: 10, reason: null, rawSealed: null },
    ...{ apiKeyId: null, requestId: null, createdAt: at, referenceEnrolmentId, matchModel: "test/1", matchThreshold: 40 },
  });
  const selfieSealed = new Uint8Array(sealer.seal(selfie, { purpose: "face_match.selfie", rowId: id }));
  await faceMatchSelfiesDal.create(db.prisma, { verificationId: id, orgId, customerId, selfieSealed, mediaType: "image/jpeg", width: 1, height: 1, createdAt: at });
  return id;
}

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());

describe("sealing-key rotation", () => {
  it("k1 → (k2,k1) → keys rewrap → k2 only: everything stays readable, the old key can go", async () => {
    // 1. Everything sealed under k1.
    const v1 = await deploy([k1]);
    const org = await v1.services.orgs.create({ name: "Rotation Bank", dukcapilEnabled: true });
    orgId = org.id;
    await v1.services.orgs.update(orgId, { limits: { "identity.nik.dukcapil": 10_000 } });
    apiKey = (await v1.services.apiKeys.create({ orgId, scopes: ["verifications:view", "customers:write"] })).key;
    const plain = new Map<string, Buffer>(); // "<purpose>|<rowId>" → what was sealed
    const remember = (ctx: SealContext, bytes: Buffer) => plain.set(`${ctx.purpose}|${ctx.rowId}`, bytes);

    const customers: string[] = [];
    for (let i = 0; i < 5; i++) customers.push((await v1.services.customers.create(orgId, {})).id);
    for (const [i, customerId] of customers.entries()) {
      const photo = i % 2 ? await png(120 + i, 140) : await jpeg(130 + i, 150);
      const rawText = `{"nik":"31710${i}","result":"MATCH","i":${i}}`;
      const res = await v1.post({ customerId, valid: true, photo: b64(photo), raw: JSON.parse(rawText) as object });
      expect(res.statusCode).toBe(201);
      const { verification, enrolment } = res.json();
      remember({ purpose: "face_enrolment.photo", rowId: enrolment!.id }, photo);
      remember({ purpose: "verification.raw", rowId: verification.id }, Buffer.from(JSON.stringify(JSON.parse(rawText))));
      const template = randomBytes(64);
      await giveTemplate(v1.sealer, enrolment!.id, template);
      remember({ purpose: "face_enrolment.template", rowId: enrolment!.id }, template);
    }
    for (const i of [0, 1]) {
      const selfie = randomBytes(100);
      const reference = await db.prisma.faceEnrolment.findFirstOrThrow({ where: { customerId: customers[i]! } });
      remember({ purpose: "face_match.selfie", rowId: await seedFaceMatch(v1.sealer, customers[i]!, reference.id, selfie) }, selfie);
    }
    const declined = await v1.post({ customerId: customers[0]!, valid: false, reason: "no match", raw: { result: "NO_MATCH" } });
    remember({ purpose: "verification.raw", rowId: declined.json().verification.id }, Buffer.from('{"result":"NO_MATCH"}'));
    await v1.close();
    const underK1 = await envelopes();
    expect(underK1.map((e) => v1.sealer.keyIdOf(e.sealed))).toEqual(Array(underK1.length).fill("k1"));
    expect(underK1.filter((e) => e.name === "photos")).toHaveLength(5);
    expect(underK1.filter((e) => e.name === "templates")).toHaveLength(5);
    expect(underK1.filter((e) => e.name === "raw")).toHaveLength(6);
    expect(underK1.filter((e) => e.name === "selfies")).toHaveLength(2);
    const verificationsBefore = await db.prisma.verification.findMany({ orderBy: { id: "asc" } });

    // 2. k2 put first: new seals use k2, every k1 envelope still opens.
    const v2 = await deploy([k2, k1]);
    const photo = await jpeg(128, 128);
    const fresh = await v2.post({ customerId: customers[1]!, valid: true, photo: b64(photo), raw: { after: "rotation" } });
    expect(fresh.statusCode).toBe(201);
    remember({ purpose: "face_enrolment.photo", rowId: fresh.json().enrolment!.id }, photo);
    remember({ purpose: "verification.raw", rowId: fresh.json().verification.id }, Buffer.from('{"after":"rotation"}'));
    const mixed = await envelopes();
    const byKey = (list: typeof mixed, sealer: Sealer) =>
      list.reduce<Record<string, number>>((acc, e) => ({ ...acc, [sealer.keyIdOf(e.sealed)]: (acc[sealer.keyIdOf(e.sealed)] ?? 0) + 1 }), {});
    expect(byKey(mixed, v2.sealer)).toEqual({ k1: 18, k2: 2 });
    for (const e of mixed) expect(v2.sealer.open(e.sealed, e.ctx).equals(plain.get(`${e.ctx.purpose}|${e.ctx.rowId}`)!)).toBe(true);

    // 3. Rewrap, in small batches (the keyset paging runs several rounds per column).
    const summary = await runAdminCommand(v2.services, ["keys", "rewrap", "--batch-size", "2"]);
    expect(summary).toEqual({
      activeKeyId: "k2",
      rewrapped: { photos: 5, templates: 5, raw: 6, selfies: 2 },
      alreadyCurrent: { photos: 1, templates: 0, raw: 1, selfies: 0 },
      remaining: { photos: 0, templates: 0, raw: 0, selfies: 0 },
    });
    // Resumable and idempotent: a second run finds nothing left to do.
    expect(await runAdminCommand(v2.services, ["keys", "rewrap"])).toEqual({
      activeKeyId: "k2",
      rewrapped: { photos: 0, templates: 0, raw: 0, selfies: 0 },
      alreadyCurrent: { photos: 6, templates: 5, raw: 7, selfies: 2 },
      remaining: { photos: 0, templates: 0, raw: 0, selfies: 0 },
    });
    // Only the ciphertext changed: every other column of the (immutable) verifications is as it was.
    const verificationsAfter = await db.prisma.verification.findMany({ where: { id: { in: verificationsBefore.map((v) => v.id) } }, orderBy: { id: "asc" } });
    expect(verificationsAfter.map(({ rawSealed: _r, ...rest }) => rest)).toEqual(verificationsBefore.map(({ rawSealed: _r, ...rest }) => rest));
    await v2.close();

    // 4. k1 removed: everything opens with k2 alone, to the same bytes; an envelope kept from before the
    // rewrap no longer opens (the old key is really gone, so the rewrap was needed).
    const v3 = await deploy([k2]);
    const final = await envelopes();
    expect(final).toHaveLength(20);
    for (const e of final) {
      expect(v3.sealer.keyIdOf(e.sealed)).toBe("k2");
      expect(v3.sealer.open(e.sealed, e.ctx).equals(plain.get(`${e.ctx.purpose}|${e.ctx.rowId}`)!)).toBe(true);
    }
    expect(() => v3.sealer.open(underK1[0]!.sealed, underK1[0]!.ctx)).toThrow(/k1.*not in SEALING_KEYS/);
    // the compliance read path (audited raw access) opens a rewrapped envelope byte for byte
    const shown = await runAdminCommand(v3.services, ["audit", "show", "--verification", declined.json().verification.id, "--reason", "rotation check", "--actor", "test"]);
    expect(shown).toBeInstanceOf(VerbatimJson);
    expect((shown as VerbatimJson).text).toBe('{"result":"NO_MATCH"}');
    // and the service keeps working on k2 alone: a new verdict supersedes a rewrapped enrolment
    const after = await v3.post({ customerId: customers[2]!, valid: true, photo: b64(await png(100, 100)) });
    expect(after.statusCode).toBe(201);
    await v3.close();
  });

  it("an envelope no key in the ring opens stops the rotation from claiming success, and a re-run resumes", async () => {
    // A row sealed under k0, a key the deployment no longer has.
    const v0 = await deploy([k0, k2]);
    const customerId = (await v0.services.customers.create(orgId, {})).id;
    const res = await v0.post({ customerId, valid: false, raw: { old: "key" } });
    expect(res.statusCode).toBe(201);
    await v0.close();

    const v2 = await deploy([k2]);
    await expect(runAdminCommand(v2.services, ["keys", "rewrap"])).rejects.toThrow(/1 raw envelopes and 0 selfies could not be opened.*sealed with: k0/);
    await v2.close();

    // With k0 back in the ring (after k2), the same command resumes and completes.
    const v2b = await deploy([k2, k0]);
    expect(await runAdminCommand(v2b.services, ["keys", "rewrap"])).toMatchObject({ rewrapped: { photos: 0, templates: 0, raw: 1 }, remaining: { photos: 0, templates: 0, raw: 0 } });
    const row = await db.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } });
    expect(createSealer([k2]).open(row.rawSealed!, { purpose: "verification.raw", rowId: row.id }).toString()).toBe('{"old":"key"}');
    await v2b.close();
  });

  it("refuses a bad --batch-size", async () => {
    const v = await deploy([k2]);
    for (const bad of ["0", "-1", "x", "100000"]) {
      await expect(runAdminCommand(v.services, ["keys", "rewrap", "--batch-size", bad])).rejects.toThrow(/--batch-size/);
    }
    await v.close();
  });
});
