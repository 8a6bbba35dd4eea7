// The platform's default limit of every bucket (platform-conventions.md: GET 600/min, other writes 120/min,
// identity.nik.dukcapil 30/min; face-match.md: identity.face.match the default for writes), as each route
// announces it on its first response. A changed default is a changed contract: this fails.
import { createId } from "@paralleldrive/cuid2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RATE_LIMIT_BUCKETS } from "../../src/modules/orgs/orgs-types.js";
import { createTestContext, type TestContext } from "../helpers/app.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const ROUTES: { bucket: string; limit: number; method: "GET" | "POST"; url: string; body?: object }[] = [
  { bucket: "identity.nik.dukcapil", limit: 30, method: "POST", url: "/api/identity/nik/dukcapil", body: { customerId: createId(), valid: false } },
  { bucket: "identity.face.match", limit: 120, method: "POST", url: "/api/identity/face/match", body: { customerId: createId(), photo: "AAAA" } },
  { bucket: "customers.create", limit: 120, method: "POST", url: "/api/customers", body: {} },
  { bucket: "identity.kyc.read", limit: 600, method: "GET", url: `/api/identity/kyc/${createId()}` },
  { bucket: "identity.attempts.list", limit: 600, method: "GET", url: "/api/identity/attempts" },
];

describe("default limits per bucket", () => {
  it("every route announces its bucket's documented default", async () => {
    const bank = await ctx.tenant();
    for (const r of ROUTES) {
      const res = await ctx.app.inject({ method: r.method, url: r.url, headers: { ...bank.auth, ...(r.body ? { "content-type": "application/json" } : {}) }, payload: r.body });
      expect(res.statusCode, r.url).toBeLessThan(500);
      expect(res.headers["x-ratelimit-limit"], r.bucket).toBe(String(r.limit));
      expect(res.headers["x-ratelimit-remaining"], r.bucket).toBe(String(r.limit - 1));
    }
  });

  it("names every bucket the service has (a new bucket needs its default pinned here)", () => {
    expect(Object.fromEntries(ROUTES.map((r) => [r.bucket, r.limit]))).toEqual(RATE_LIMIT_BUCKETS);
  });
});
