// Wires the services once, for both the HTTP server and the admin CLI: each takes only what it uses.
import { setTimeout as sleep } from "node:timers/promises";
import type { TestHooks } from "./config.js";
import type { PrismaClient } from "./db/types.js";
import type { Sealer } from "./crypto/seal.js";
import type { FaceTemplater } from "./face/engine.js";
import { createAnalystsService } from "./modules/analysts/analysts-service.js";
import { createApiKeysService } from "./modules/api-keys/api-keys-service.js";
import { createAttemptsService } from "./modules/attempts/attempts-service.js";
import { createAuditService } from "./modules/audit/audit-service.js";
import { createConsoleSessionsService } from "./modules/console-sessions/console-sessions-service.js";
import { createCustomersService } from "./modules/customers/customers-service.js";
import { createDukcapilService } from "./modules/dukcapil/dukcapil-service.js";
import { createFaceMatchService } from "./modules/face-match/face-match-service.js";
import { createEnrolmentsService } from "./modules/enrolments/enrolments-service.js";
import { createErasureService, type ErasureServiceDeps } from "./modules/erasure/erasure-service.js";
import type { ErasureProgress } from "./modules/erasure/erasure-types.js";
import { createIdempotencyService } from "./modules/idempotency/idempotency-service.js";
import { createKycService } from "./modules/kyc/kyc-service.js";
import { createOrgsService } from "./modules/orgs/orgs-service.js";
import { createRetentionService } from "./modules/retention/retention-service.js";
import { createRewrapService } from "./modules/rewrap/rewrap-service.js";

export interface CoreDeps {
  prisma: PrismaClient;
  sealer: Sealer;
  face: FaceTemplater;
  /** The console's clock and how it waits (sessions expire, sign-ins are slowed); tests control both. */
  clock?: { now: () => Date; sleep: (ms: number) => Promise<unknown> };
  /** Fault-injection hooks of the tests that drive real processes (NODE_ENV=test only): see Config.testHooks. */
  testHooks?: TestHooks;
}

function erasureHooks(hooks: TestHooks = {}): Pick<ErasureServiceDeps, "batchSize" | "afterBatch"> {
  const pause = hooks.erasurePauseMs;
  if (pause === undefined) return { batchSize: hooks.erasureBatchSize };
  // A line per committed batch on stderr (the fault test kills the process on it), then the pause.
  const afterBatch = async (p: ErasureProgress) => {
    process.stderr.write(`erasure batch committed: ${JSON.stringify(p)}\n`);
    await sleep(pause);
  };
  return { batchSize: hooks.erasureBatchSize, afterBatch };
}

export function createServices({ prisma, sealer, face, clock, testHooks }: CoreDeps) {
  const offset = testHooks?.retentionClockOffsetMs ?? 0;
  return {
    orgs: createOrgsService({ prisma }),
    apiKeys: createApiKeysService({ prisma }),
    customers: createCustomersService({ prisma }),
    dukcapil: createDukcapilService({ prisma, sealer, face }),
    faceMatch: createFaceMatchService({ prisma, sealer, face }),
    enrolments: createEnrolmentsService({ prisma, sealer, face }),
    idempotency: createIdempotencyService({ prisma }),
    rewrap: createRewrapService({ prisma, sealer }),
    kyc: createKycService({ prisma }),
    attempts: createAttemptsService({ prisma }),
    audit: createAuditService({ prisma, sealer }),
    analysts: createAnalystsService({ prisma, now: clock?.now }),
    consoleSessions: createConsoleSessionsService({ prisma, sealer, now: clock?.now, sleep: clock?.sleep }),
    erasure: createErasureService({ prisma, ...erasureHooks(testHooks) }),
    retention: createRetentionService({ prisma, now: () => new Date(Date.now() + offset) }),
  };
}
export type Services = ReturnType<typeof createServices>;
