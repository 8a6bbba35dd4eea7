// POST /api/customers per the conventions: 201 {"data": {id (CUID), externalRef, kycLevel "none", createdAt}},
// externalRef unique per org and free of personal data, scope customers:write.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";

let ctx: TestContext;
let bank: Tenant;
beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "customers.create": 10_000 } });
});
afterAll(() => ctx.close());

const CUID2 = /^[a-z][0-9a-z]{23}$/;

describe("POST /api/customers", () => {
  it("201 with exactly the conventions' shape, stored in the caller's org", async () => {
    const before = Date.now();
    const res = await bank.post("/api/customers", { externalRef: "cust-0001" });
    expect(res.statusCode).toBe(201);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const body = res.json();
    expect(Object.keys(body)).toEqual(["data"]);
    expect(Object.keys(body.data).sort()).toEqual(["createdAt", "externalRef", "id", "kycLevel"]);
    expect(body.data).toEqual({ id: expect.stringMatching(CUID2), externalRef: "cust-0001", kycLevel: "none", createdAt: expect.any(String) });
    expect(new Date(body.data.createdAt).toISOString()).toBe(body.data.createdAt);
    expect(new Date(body.data.createdAt).getTime()).toBeGreaterThanOrEqual(before - 1000);
    const row = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: body.data.id } });
    expect(row).toMatchObject({ orgId: bank.orgId, externalRef: "cust-0001", kycTier: "none", kycLastVerifiedAt: null });
  });

  it("works with {} and with no body at all; ids are unique; externalRef is then null", async () => {
    const empty = await bank.post("/api/customers", {});
    const none = await ctx.app.inject({ method: "POST", url: "/api/customers", headers: bank.auth });
    for (const res of [empty, none]) {
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().data).toEqual({ id: expect.stringMatching(CUID2), externalRef: null, kycLevel: "none", createdAt: expect.any(String) });
    }
    expect(empty.json().data.id).not.toBe(none.json().data.id);
  });

  it("accepts every allowed character and the full length", async () => {
    for (const ref of ["a", "A.b_c:d-e/f", "x".repeat(128), "123456789012345", "12345678901234567", "BANK/2026/000001"]) {
      const res = await bank.post("/api/customers", { externalRef: ref });
      expect(res.statusCode, ref).toBe(201);
      expect(res.json().data.externalRef).toBe(ref);
    }
  });

  it("409 for a duplicate externalRef in the same org, writing nothing", async () => {
    expect((await bank.post("/api/customers", { externalRef: "dup-1" })).statusCode).toBe(201);
    const count = await ctx.prisma.customer.count();
    const res = await bank.post("/api/customers", { externalRef: "dup-1" });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: expect.stringMatching(/externalRef/), code: "external_ref_taken", requestId: res.headers["x-request-id"] });
    expect(await ctx.prisma.customer.count()).toBe(count);
    // case matters: a different ref
    expect((await bank.post("/api/customers", { externalRef: "DUP-1" })).statusCode).toBe(201);
  });

  it("the same externalRef in another org is fine", async () => {
    expect((await bank.post("/api/customers", { externalRef: "shared-ref" })).statusCode).toBe(201);
    const other = await ctx.tenant();
    const res = await other.post("/api/customers", { externalRef: "shared-ref" });
    expect(res.statusCode).toBe(201);
    expect((await ctx.prisma.customer.findUniqueOrThrow({ where: { id: res.json().data.id } })).orgId).toBe(other.orgId);
  });

  it("400 with field errors for a bad externalRef or an unknown field, writing nothing", async () => {
    const count = await ctx.prisma.customer.count();
    const cases: [unknown, string][] = [
      [{ externalRef: "3171012345678901" }, "externalRef"], // a NIK
      [{ externalRef: "x".repeat(129) }, "externalRef"],
      [{ externalRef: "" }, "externalRef"],
      [{ externalRef: "has space" }, "externalRef"],
      [{ externalRef: "semi;colon" }, "externalRef"],
      [{ externalRef: "josé" }, "externalRef"],
      [{ externalRef: "<script>" }, "externalRef"],
      [{ externalRef: "a\nb" }, "externalRef"],
      [{ externalRef: 1234 }, "externalRef"],
      [{ externalRef: null }, "externalRef"],
      [{ externalRef: ["a"] }, "externalRef"],
      [{ name: "Budi" }, "name"],
      [{ externalRef: "ok", nik: "3171012345678901" }, "nik"],
    ];
    for (const [payload, field] of cases) {
      const res = await bank.post("/api/customers", payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      const body = res.json();
      expect(body).toMatchObject({ error: expect.any(String), code: "validation_failed", requestId: res.headers["x-request-id"] });
      expect(body.details.fieldErrors[field], JSON.stringify(body)).toEqual(expect.arrayContaining([expect.any(String)]));
      expect(Object.keys(body.details.fieldErrors)).toEqual([field]);
      expect(res.body).not.toContain("3171012345678901"); // personal data is not echoed back
    }
    expect(await ctx.prisma.customer.count()).toBe(count);
  });

  it("400 for a body that is not a JSON object; 415 for other content types", async () => {
    for (const payload of ["[]", '"x"', "1", "null", "{"]) {
      expect((await bank.post("/api/customers", payload)).statusCode, payload).toBe(400);
    }
    expect((await bank.post("/api/customers", "externalRef=x", { "content-type": "application/x-www-form-urlencoded" })).statusCode).toBe(415);
  });

  it("requires the customers:write scope", async () => {
    for (const scopes of [["customers:view"], ["verifications:view"]]) {
      const t = await ctx.tenant({ scopes });
      const res = await t.post("/api/customers", { externalRef: "x-1" });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ error: "missing scope: customers:write", code: "missing_scope", requestId: res.headers["x-request-id"] });
    }
    expect((await ctx.app.inject({ method: "POST", url: "/api/customers", payload: {} })).statusCode).toBe(401);
  });
});
