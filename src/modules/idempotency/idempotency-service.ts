// Idempotency keys for POSTs (the Stripe model): the first request with a key claims it and executes; its
// response is stored and replayed to every retry with the same key and the same request; a different request
// under a used key, or a retry while the first is still running, is a 409. Keys belong to the org.
import type { DbClient, PrismaClient } from "../../db/types.js";
import { ConflictError } from "../../errors.js";
import { idempotencyDal, type ClaimRef } from "./idempotency-dal.js";

/** How long a key and its stored response are kept (at least; expired rows are purged lazily and hourly). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * An in_progress claim older than this is presumed abandoned (its process died before it could store or
 * release it) and may be taken over by a retry. Far above the longest request (request timeout 30 s,
 * transaction timeout ≤ 15 s). Where the response is recorded in the same transaction as the effect (the
 * Dukcapil ingest), a takeover is safe even if the old request is somehow still running: its commit is
 * fenced on its own claim and rolls back.
 */
export const STALE_CLAIM_MS = 60_000;
const PURGE_BATCH = 1_000;

export class IdempotencyKeyReusedError extends ConflictError {
  constructor() {
    super("this Idempotency-Key was already used with a different request (method, path or body); use a new key", "idempotency_key_reused");
  }
}

export class IdempotencyInProgressError extends ConflictError {
  constructor() {
    super("a request with this Idempotency-Key is still being processed; retry shortly", "idempotency_request_in_progress");
  }
}

export interface IdempotentRequest {
  orgId: string;
  key: string;
  /** "METHOD /route/pattern", for diagnostics. */
  route: string;
  /** Hash of method, path and body bytes: what "the same request" means. */
  requestHash: string;
}

export type BeginResult =
  | { kind: "execute"; claim: ClaimRef }
  | { kind: "replay"; statusCode: number; bodyText: string };

export interface StoredResponse {
  statusCode: number;
  /** The body exactly as sent. Stored as a JSON string: a jsonb object would come back with its keys reordered. */
  bodyText: string;
}

export function createIdempotencyService({ prisma, now = () => new Date() }: { prisma: PrismaClient; now?: () => Date }) {
  return {
    /** Claims the key (→ execute) or answers from what is stored (→ replay), or throws a 409. */
    async begin(req: IdempotentRequest): Promise<BeginResult> {
      // A few rounds at most: each round either claims, answers, or removes one dead row (expired or abandoned).
      for (let round = 0; round < 4; round++) {
        const at = now();
        const claimed = await idempotencyDal.claim(prisma, {
          ...req,
          claimedAt: at,
          expiresAt: new Date(at.getTime() + IDEMPOTENCY_TTL_MS),
        });
        if (claimed) return { kind: "execute", claim: { orgId: req.orgId, key: req.key, claimedAt: at } };

        const seen = await idempotencyDal.find(prisma, req.orgId, req.key);
        if (!seen) continue; // released or purged between our insert and our read
        if (seen.expiresAt.getTime() <= at.getTime()) {
          await idempotencyDal.deleteSeen(prisma, seen); // lazily purged: the key is free again
          continue;
        }
        if (seen.requestHash !== req.requestHash) throw new IdempotencyKeyReusedError();
        if (seen.state === "completed" && seen.statusCode !== null && typeof seen.responseBody === "string") {
          return { kind: "replay", statusCode: seen.statusCode, bodyText: seen.responseBody };
        }
        if (at.getTime() - seen.createdAt.getTime() > STALE_CLAIM_MS) {
          await idempotencyDal.deleteSeen(prisma, seen); // abandoned claim; racing retries then race on the insert
          continue;
        }
        throw new IdempotencyInProgressError();
      }
      throw new IdempotencyInProgressError();
    },

    /**
     * Stores the response of a claimed request. `db` may be the transaction that wrote the request's effects,
     * so effect and stored response commit together (or not at all). False when the claim is no longer ours.
     */
    complete(claim: ClaimRef, response: StoredResponse, db: DbClient = prisma): Promise<boolean> {
      return idempotencyDal.complete(db, claim, { statusCode: response.statusCode, body: response.bodyText, at: now() });
    },

    /** Gives the key back (the request failed with a 5xx: not a result to replay), so a retry executes. */
    release(claim: ClaimRef): Promise<void> {
      return idempotencyDal.release(prisma, claim);
    },

    /** Deletes expired keys in batches; returns how many. */
    async purgeExpired(): Promise<number> {
      let total = 0;
      for (;;) {
        const n = await idempotencyDal.purgeExpired(prisma, now(), PURGE_BATCH);
        total += n;
        if (n < PURGE_BATCH) return total;
      }
    },
  };
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
