// The real face engine (Human in worker threads) behind the Dukcapil ingest, on a real database. The engine
// loads once for this file (~1 s, ~235 MB): keep new cases in here rather than in new files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdminCommand } from "../../src/cli/commands.js";
import { compareTemplates, faceEngineOff } from "../../src/face/engine.js";
import { HUMAN_MODEL_ID, startHumanFaceEngine, type HumanFaceEngine } from "../../src/face/human-engine.js";
import { createServices } from "../../src/services.js";
import { createTestContext, type Tenant, type TestContext } from "../helpers/app.js";
import { b64 } from "../helpers/images.js";
import { altered, gradient, group, portrait, withMarker } from "./photos.js";

const URL = "/api/identity/nik/dukcapil";
const CRASH = "face-engine-test-crash-marker";
let engine: HumanFaceEngine;
let workerErrors: Error[] = [];
let ctx: TestContext;
let bank: Tenant;
let alice: Buffer;

beforeAll(async () => {
  // A generous budget: the cores are shared with other suites, and this file is not about the budget.
  engine = startHumanFaceEngine({ workers: 1, timeoutMs: 20_000, crashMarker: CRASH, onWorkerError: (e) => workerErrors.push(e) });
  ctx = await createTestContext({ face: engine });
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000 } });
  [alice] = await Promise.all([portrait("alice"), engine.ready]);
});
afterAll(async () => {
  await ctx?.close();
  await engine?.close();
});

async function ingest(photo: Buffer) {
  const customerId = await bank.customer();
  const res = await bank.post(URL, { customerId, valid: true, photo: b64(photo) });
  expect(res.statusCode).toBe(201);
  const enrolment = res.json().enrolment as { id: string; fallbackStub: boolean };
  const row = await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id: enrolment.id } });
  return { enrolment, row };
}

const openTemplate = (row: { id: string; templateSealed: Uint8Array | null }) =>
  ctx.sealer.open(row.templateSealed!, { purpose: "face_enrolment.template", rowId: row.id });

describe("face templates on the Dukcapil ingest", () => {
  it("a portrait: fallbackStub false and a sealed, versioned template", async () => {
    const { enrolment, row } = await ingest(alice);
    expect(enrolment.fallbackStub).toBe(false);
    expect(row).toMatchObject({ fallbackStub: false, fallbackCause: null, templateModel: HUMAN_MODEL_ID });
    expect(HUMAN_MODEL_ID).toMatch(/^human-\d+\.\d+\.\d+\/faceres$/);
    const template = openTemplate(row);
    expect(template.length).toBe(1024 * 4); // FaceRes: 1024 float32
    // sealed to its row and purpose: not readable as another row's template or as a photo
    expect(() => ctx.sealer.open(row.templateSealed!, { purpose: "face_enrolment.photo", rowId: row.id })).toThrow();
    const other = await ingest(alice);
    expect(() => ctx.sealer.open(row.templateSealed!, { purpose: "face_enrolment.template", rowId: other.row.id })).toThrow();
  });

  it("a photo with no face: fallbackStub true, cause no_face, no template", async () => {
    const { enrolment, row } = await ingest(await gradient());
    expect(enrolment.fallbackStub).toBe(true);
    expect(row).toMatchObject({ fallbackStub: true, fallbackCause: "no_face", templateSealed: null, templateModel: null });
  });

  it("a group photo of comparable faces: fallbackStub true, cause multiple_faces", async () => {
    const { row } = await ingest(await group());
    expect(row).toMatchObject({ fallbackStub: true, fallbackCause: "multiple_faces", templateSealed: null });
  });

  it("the same portrait twice gives templates with cosine >= 0.99", async () => {
    const a = openTemplate((await ingest(alice)).row);
    const b = openTemplate((await ingest(alice)).row);
    expect(compareTemplates(a, b)).toBeGreaterThanOrEqual(0.99);
  });

  it("a slightly altered copy stays far closer than another person's face", async () => {
    const [copy, bea, cara] = await Promise.all([altered(alice), portrait("bea"), portrait("cara")]);
    const results = await Promise.all([alice, copy, bea, cara].map((p) => engine.template(p)));
    for (const t of results) expect(t).toMatchObject({ ok: true, model: HUMAN_MODEL_ID });
    const [tA, tCopy, tBea, tCara] = results.map((t) => (t.ok ? t.template : Buffer.alloc(0)));
    const tpl = (t: Buffer | undefined) => t!;
    const sameness = compareTemplates(tpl(tA), tpl(tCopy));
    const others = [compareTemplates(tpl(tA), tpl(tBea)), compareTemplates(tpl(tA), tpl(tCara)), compareTemplates(tpl(tBea), tpl(tCara))];
    expect(sameness).toBeGreaterThan(0.95);
    for (const o of others) expect(o).toBeLessThan(sameness - 0.3);
  });

  it("detect reports every face with its box", async () => {
    const one = await engine.detect(alice);
    expect(one.ok && one.faces.length).toBe(1);
    const many = await engine.detect(await group());
    expect(many.ok && many.faces.length).toBeGreaterThanOrEqual(3);
  });

  it("a worker that crashes does not take the service down: that enrolment is a stub, the next ones are not", async () => {
    workerErrors = [];
    const { enrolment, row } = await ingest(await withMarker(alice, CRASH));
    expect(enrolment.fallbackStub).toBe(true);
    expect(row.fallbackCause).toBe("engine_error");
    expect(workerErrors.map((e) => e.message).join()).toMatch(/exit/);
    // piscina replaces the thread (which reloads the models); later verdicts get templates again
    const next = await Promise.all([ingest(alice), ingest(await portrait("bea"))]);
    for (const n of next) expect(n.row).toMatchObject({ fallbackStub: false, templateModel: HUMAN_MODEL_ID });
    expect((await ctx.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBeLessThan(500);
  });
});

describe("the time budget", () => {
  it("a photo not done within FACE_TIMEOUT_MS gets cause timeout, and close() ends the engine", async () => {
    // A second engine whose budget is shorter than its model load: the photo waits for a worker and times out.
    // It is closed before it finishes loading, so it costs a thread start, not a second copy of the models.
    const slow = startHumanFaceEngine({ workers: 1, timeoutMs: 30 });
    try {
      expect(await slow.template(alice)).toEqual({ ok: false, cause: "timeout" });
      expect(await slow.detect(alice)).toEqual({ ok: false, cause: "timeout" });
    } finally {
      await slow.close();
    }
    expect(await slow.template(alice)).toEqual({ ok: false, cause: "engine_error" });
  });
});

describe("admin: enrolments retemplate", () => {
  it("turns stubs into templates, resumably, and leaves no-face stubs with their cause", async () => {
    // Stubs written while the engine was off (same database, same keys).
    const off = createServices({ prisma: ctx.prisma, sealer: ctx.sealer, face: faceEngineOff });
    const mine = await ctx.tenant();
    const photos = [alice, await portrait("bea"), await gradient(), await portrait("cara")];
    const ids: string[] = [];
    for (const photo of photos) {
      const customerId = await mine.customer();
      const r = await off.dukcapil.ingest({ orgId: mine.orgId, customerId, valid: true, photo: b64(photo), apiKeyId: mine.keyId, requestId: "test" });
      ids.push(r.enrolment!.id);
    }
    const before = await ctx.prisma.faceEnrolment.findMany({ where: { id: { in: ids } } });
    expect(before.every((r) => r.fallbackStub && r.fallbackCause === "engine_off")).toBe(true);

    // --limit stops early and says where to resume
    const first = (await runAdminCommand(ctx.services, ["enrolments", "retemplate", "--org", mine.orgId, "--stubs-only", "--limit", "2"])) as Record<string, unknown>;
    expect(first).toMatchObject({ model: HUMAN_MODEL_ID, scanned: 2, templated: 2, notTemplated: 0, complete: false });
    const rest = (await runAdminCommand(ctx.services, ["enrolments", "retemplate", "--org", mine.orgId, "--after", first.lastId as string])) as Record<string, unknown>;
    expect(rest).toMatchObject({ scanned: 2, templated: 1, notTemplated: 1, causes: { no_face: 1 }, complete: true });

    const after = new Map((await ctx.prisma.faceEnrolment.findMany({ where: { id: { in: ids } } })).map((r) => [r.id, r]));
    for (const i of [0, 1, 3]) {
      const row = after.get(ids[i]!)!;
      expect(row).toMatchObject({ fallbackStub: false, fallbackCause: null, templateModel: HUMAN_MODEL_ID });
      expect(openTemplate(row).length).toBe(4096);
    }
    expect(after.get(ids[2]!)).toMatchObject({ fallbackStub: true, fallbackCause: "no_face", templateSealed: null });
    // the retemplated portrait matches a fresh template of the same photo
    const fresh = await engine.template(alice);
    expect(fresh.ok && compareTemplates(openTemplate(after.get(ids[0]!)!), fresh.template)).toBeGreaterThanOrEqual(0.99);

    // a second run only revisits what still lacks a template, and only in its org
    const again = (await runAdminCommand(ctx.services, ["enrolments", "retemplate", "--org", mine.orgId])) as Record<string, unknown>;
    expect(again).toMatchObject({ scanned: 1, templated: 0, notTemplated: 1, complete: true });
  });

  it("re-templates templates made by an older model version", async () => {
    const mine = await ctx.tenant();
    const { row } = await (async () => {
      const customerId = await mine.customer();
      const res = await mine.post(URL, { customerId, valid: true, photo: b64(alice) });
      return { row: await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id: res.json().enrolment.id } }) };
    })();
    await ctx.prisma.faceEnrolment.update({ where: { id: row.id }, data: { templateModel: "human-3.3.5/faceres" } });
    expect(await runAdminCommand(ctx.services, ["enrolments", "retemplate", "--org", mine.orgId, "--stubs-only"])).toMatchObject({ scanned: 0 });
    expect(await runAdminCommand(ctx.services, ["enrolments", "retemplate", "--org", mine.orgId])).toMatchObject({ scanned: 1, templated: 1 });
    const now = await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id: row.id } });
    expect(now.templateModel).toBe(HUMAN_MODEL_ID);
    expect(compareTemplates(openTemplate(now), openTemplate(row))).toBeGreaterThanOrEqual(0.99);
  });

  it("refuses an unknown org and bad options", async () => {
    await expect(runAdminCommand(ctx.services, ["enrolments", "retemplate", "--org", "org_nope"])).rejects.toThrow(/org not found/);
    await expect(runAdminCommand(ctx.services, ["enrolments", "retemplate", "--limit", "0"])).rejects.toThrow(/--limit/);
    await expect(runAdminCommand(ctx.services, ["enrolments", "retemplate", "--bogus"])).rejects.toThrow();
  });
});
