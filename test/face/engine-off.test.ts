// FACE_ENGINE=off (faceEngineOff): verdicts are still recorded, every enrolment is a stub with cause
// engine_off, and re-templating refuses to run. No models are loaded here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdminCommand } from "../../src/cli/commands.js";
import { loadConfig } from "../../src/config.js";
import { createTestContext, type TestContext } from "../helpers/app.js";
import { b64 } from "../helpers/images.js";
import { portrait } from "./photos.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext(); // the harness's default engine is faceEngineOff
});
afterAll(() => ctx.close());

describe("face engine off", () => {
  it("a real portrait still becomes a stub with cause engine_off", async () => {
    const bank = await ctx.tenant();
    const customerId = await bank.customer();
    const res = await bank.post("/api/identity/nik/dukcapil", { customerId, valid: true, photo: b64(await portrait("alice")) });
    expect(res.statusCode).toBe(201);
    expect(res.json().enrolment).toMatchObject({ fallbackStub: true });
    const row = await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id: res.json().enrolment.id } });
    expect(row).toMatchObject({ fallbackStub: true, fallbackCause: "engine_off", templateSealed: null, templateModel: null });
  });

  it("retemplate says the engine is off instead of pretending to work", async () => {
    await expect(runAdminCommand(ctx.services, ["enrolments", "retemplate"])).rejects.toThrow(/FACE_ENGINE=off/);
  });

  it("FACE_ENGINE, FACE_TIMEOUT_MS and FACE_WORKERS are read and checked", () => {
    expect(loadConfig({}).face).toEqual({ engine: "onnx", timeoutMs: 3000, workers: 1 });
    expect(loadConfig({ FACE_ENGINE: "human" })).toMatchObject({ face: { engine: "onnx" }, warnings: [expect.stringMatching(/^FACE_ENGINE: human is the old name of onnx/)] });
    expect(loadConfig({ FACE_ENGINE: "off", FACE_TIMEOUT_MS: "1500", FACE_WORKERS: "2" }).face).toEqual({ engine: "off", timeoutMs: 1500, workers: 2 });
    expect(() => loadConfig({ FACE_ENGINE: "magic" })).toThrow(/FACE_ENGINE/);
    expect(() => loadConfig({ FACE_TIMEOUT_MS: "soon" })).toThrow(/FACE_TIMEOUT_MS/);
    expect(() => loadConfig({ FACE_WORKERS: "0" })).toThrow(/FACE_WORKERS/);
  });
});
