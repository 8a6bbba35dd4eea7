// The shared test harness: the real app on a fresh real database, driven through app.inject.
import { randomBytes } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "../../src/app.js";
import { createSealer, type Sealer } from "../../src/crypto/seal.js";
import { faceEngineOff, type FaceTemplater } from "../../src/face/engine.js";
import { createServices, type Services } from "../../src/services.js";
import { openTestDatabase, type TestDatabase, type TestDatabaseOptions } from "./db.js";

export interface TestContext {
  app: FastifyInstance;
  db: TestDatabase;
  prisma: TestDatabase["prisma"];
  services: Services;
  sealer: Sealer;
  close(): Promise<void>;
  /** An org with a key holding `scopes`; returns the org id, the key and its id. */
  tenant(opts?: { dukcapil?: boolean; scopes?: string[]; limits?: Record<string, number> }): Promise<Tenant>;
}

export interface Tenant {
  orgId: string;
  key: string;
  keyId: string;
  auth: { authorization: string };
  customer(externalRef?: string): Promise<string>;
  post(url: string, payload: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export const ALL_SCOPES = ["verifications:view", "customers:write", "customers:view"];

export async function createTestContext(
  opts: { face?: FaceTemplater; clock?: { now: () => Date; sleep: (ms: number) => Promise<unknown> }; secureCookies?: boolean; db?: TestDatabaseOptions } = {},
): Promise<TestContext> {
  const db = await openTestDatabase(opts.db);
  const sealer = createSealer([{ id: "test1", key: randomBytes(32) }]);
  const services = createServices({ prisma: db.prisma, sealer, face: opts.face ?? faceEngineOff, clock: opts.clock });
  const app = await buildApp({ prisma: db.prisma, services, logLevel: process.env.TEST_LOG_LEVEL ?? "silent", secureCookies: opts.secureCookies });
  await app.ready();

  const ctx: TestContext = {
    app,
    db,
    prisma: db.prisma,
    services,
    sealer,
    async close() {
      await app.close();
      await db.close();
    },
    async tenant({ dukcapil = true, scopes = ALL_SCOPES, limits } = {}) {
      const org = await services.orgs.create({ name: `Bank ${randomBytes(3).toString("hex")}`, dukcapilEnabled: dukcapil });
      if (limits) await services.orgs.update(org.id, { limits });
      const key = await services.apiKeys.create({ orgId: org.id, scopes, env: "sandbox" });
      const auth = { authorization: `Bearer ${key.key}` };
      const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
        app.inject({ method: "POST", url, headers: { ...auth, "content-type": "application/json", ...headers }, payload: payload as object });
      return {
        orgId: org.id,
        key: key.key,
        keyId: key.id,
        auth,
        post,
        async customer(externalRef?: string) {
          return (await services.customers.create(org.id, { externalRef })).id;
        },
      };
    },
  };
  return ctx;
}
