// Orgs as the admin CLI creates and changes them, through the service in this process: the name rule, each
// setting at its bounds, all-or-nothing changes (one bad value changes nothing), and the org JSON.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrgsService, MAX_PER_MINUTE } from "../../src/modules/orgs/orgs-service.js";
import { createTestContext, type TestContext } from "../helpers/app.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const orgs = () => createOrgsService({ prisma: ctx.prisma });
const fresh = { faceMatchThreshold: null, retainRawDays: null, retainSelfiesDays: null, rateLimits: {} };

describe("org create", () => {
  it("trims the name, keeps Dukcapil off unless asked; 1 to 200 characters", async () => {
    const a = await orgs().create({ name: "  Bank Satu  " });
    expect(a).toEqual({ id: expect.stringMatching(/^org_/), name: "Bank Satu", dukcapilEnabled: false, ...fresh, createdAt: expect.any(String) });
    expect(new Date(a.createdAt).toISOString()).toBe(a.createdAt);
    expect(await orgs().get(a.id)).toEqual(a);
    expect((await orgs().create({ name: "b".repeat(200), dukcapilEnabled: true })).dukcapilEnabled).toBe(true);
    expect((await orgs().create({ name: "c" })).name).toBe("c");
    const before = await ctx.prisma.org.count();
    for (const name of ["", "   ", "b".repeat(201)]) {
      await expect(orgs().create({ name })).rejects.toMatchObject({ statusCode: 400, message: "invalid org", fieldErrors: { name: ["must be 1-200 characters"] } });
    }
    expect(await ctx.prisma.org.count()).toBe(before);
    await expect(orgs().get("org_unknown")).rejects.toMatchObject({ statusCode: 404, message: "org not found" });
  });
});

describe("org set", () => {
  it("each setting at its bounds; null puts a setting back; what is not given stays", async () => {
    const { id } = await orgs().create({ name: "Bank Dua" });
    expect(await orgs().update(id, { dukcapilEnabled: true })).toMatchObject({ dukcapilEnabled: true, ...fresh });
    expect(await orgs().update(id, { faceMatchThreshold: 0 })).toMatchObject({ dukcapilEnabled: true, faceMatchThreshold: 0 });
    expect(await orgs().update(id, { faceMatchThreshold: 100 })).toMatchObject({ faceMatchThreshold: 100 });
    expect(await orgs().update(id, { retainRawDays: 1 })).toMatchObject({ faceMatchThreshold: 100, retainRawDays: 1, retainSelfiesDays: null });
    expect(await orgs().update(id, { retainSelfiesDays: 3650 })).toMatchObject({ retainRawDays: 1, retainSelfiesDays: 3650 });
    expect(await orgs().update(id, { limits: { "identity.kyc.read": 1, "customers.create": MAX_PER_MINUTE } })).toMatchObject({
      rateLimits: { "identity.kyc.read": 1, "customers.create": 100_000 },
    });
    expect(await orgs().update(id, { limits: { "identity.kyc.read": 9 } })).toMatchObject({ rateLimits: { "identity.kyc.read": 9, "customers.create": 100_000 } });
    expect(await orgs().update(id, { faceMatchThreshold: null, retainRawDays: null })).toMatchObject({ faceMatchThreshold: null, retainRawDays: null, retainSelfiesDays: 3650 });
    expect(await orgs().update(id, { dukcapilEnabled: false })).toMatchObject({ dukcapilEnabled: false, retainSelfiesDays: 3650 });
    expect(await orgs().update(id, {})).toEqual(await orgs().get(id));
    const row = await ctx.prisma.org.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ dukcapilEnabled: false, faceMatchThreshold: null, retainRawDays: null, retainSelfiesDays: 3650 });
  });

  it("a value out of range or an unknown bucket is a 400 naming it, and nothing of the change is applied", async () => {
    const { id } = await orgs().create({ name: "Bank Tiga" });
    const before = await orgs().get(id);
    const windowError = (field: string) => ({ [field]: ["must be a whole number of days 1-3650, or off"] });
    const cases: [Parameters<ReturnType<typeof orgs>["update"]>[1], string, Record<string, string[]>][] = [
      [{ retainRawDays: 0 }, "invalid retention window", windowError("retainRawDays")],
      [{ retainRawDays: 3651 }, "invalid retention window", windowError("retainRawDays")],
      [{ retainRawDays: 1.5 }, "invalid retention window", windowError("retainRawDays")],
      [{ retainSelfiesDays: 0 }, "invalid retention window", windowError("retainSelfiesDays")],
      [{ retainSelfiesDays: 3651 }, "invalid retention window", windowError("retainSelfiesDays")],
      [{ faceMatchThreshold: -1 }, "invalid face-match threshold", { faceMatchThreshold: ["must be an integer 0-100"] }],
      [{ faceMatchThreshold: 101 }, "invalid face-match threshold", { faceMatchThreshold: ["must be an integer 0-100"] }],
      [{ faceMatchThreshold: 40.5 }, "invalid face-match threshold", { faceMatchThreshold: ["must be an integer 0-100"] }],
      [{ limits: { "identity.kyc.read": 0 } }, "invalid rate limit", { limit: ["per-minute limit must be an integer 1-100000"] }],
      [{ limits: { "identity.kyc.read": MAX_PER_MINUTE + 1 } }, "invalid rate limit", { limit: ["per-minute limit must be an integer 1-100000"] }],
      [{ limits: { "identity.kyc.read": 2.5 } }, "invalid rate limit", { limit: ["per-minute limit must be an integer 1-100000"] }],
      [
        { limits: { "identity.kyc.reads": 5 } },
        "invalid rate limit",
        { limit: ['unknown bucket "identity.kyc.reads"; one of identity.nik.dukcapil, identity.face.match, customers.create, identity.kyc.read, identity.attempts.list, identity.attempts.export'] },
      ],
      [{ limits: { toString: 5 } }, "invalid rate limit", { limit: [expect.stringMatching(/^unknown bucket "toString"/)] }],
    ];
    for (const [change, message, fieldErrors] of cases) {
      // a good part alongside the bad one: all or nothing
      await expect(orgs().update(id, { dukcapilEnabled: true, retainRawDays: 30, faceMatchThreshold: 50, limits: { "customers.create": 7 }, ...change }), JSON.stringify(change)).rejects.toMatchObject({
        statusCode: 400,
        message,
        fieldErrors,
      });
      expect(await orgs().get(id)).toEqual(before);
    }
    await expect(orgs().update("org_unknown", { dukcapilEnabled: true })).rejects.toMatchObject({ statusCode: 404, message: "org not found" });
  });
});
