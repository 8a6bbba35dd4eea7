// Liveness, readiness (503 when the database is gone) and the 404 shape of unknown routes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../helpers/app.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe("health", () => {
  it("GET /healthz: 200 without a key", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
    expect(res.headers["x-request-id"]).toMatch(/^req_/);
  });

  it("GET /readyz: 200 while the database answers", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ready" });
  });

  it("GET /readyz: 503 in the error shape when the database is closed; /healthz stays 200", async () => {
    const other = await createTestContext();
    try {
      expect((await other.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
      await other.db.close();
      const t = Date.now();
      const res = await other.app.inject({ method: "GET", url: "/readyz" });
      expect(Date.now() - t).toBeLessThan(5_000);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: "database unavailable", code: "unavailable", requestId: res.headers["x-request-id"] });
      expect((await other.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await other.app.close();
    }
    // the first context's database was never affected
    expect((await ctx.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });

  it("unknown routes and methods: 404 in the platform's error shape", async () => {
    for (const [method, url] of [
      ["GET", "/nope"],
      ["POST", "/api/nope"],
      ["GET", "/api/customers"],
      ["DELETE", "/api/identity/nik/dukcapil"],
      ["GET", "/api/identity/nik/dukcapil/extra"],
    ] as const) {
      const res = await ctx.app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ error: "route not found", code: "route_not_found", requestId: res.headers["x-request-id"] });
    }
  });
});
