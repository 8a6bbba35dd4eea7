// Idempotency-Key for POSTs. Routes opt in with `preHandler: app.idempotent` (and declare
// IdempotencyKeyHeaders in their schema, for validation and the OpenAPI description).
//
// The preHandler runs after authentication, rate limit, scope and capability checks and after body
// validation, so those refusals are never stored (as with Stripe: only a request that started executing has a
// result to replay). It claims the key or answers from what is stored; the onSend hook stores the response:
// 2xx and 4xx are stored and replayed, a 5xx is not (the claim is released so a retry executes).
//
// A crash between an endpoint's commit and the onSend store would let a retry execute twice. Endpoints where
// that matters record the response inside their own transaction instead (request.idempotency.inTransaction):
// the effects and the stored response then commit together.
import { createHash } from "node:crypto";
import fp from "fastify-plugin";
import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from "fastify";
import { z } from "zod";
import type { DbClient } from "../db/types.js";
import { BadRequestError } from "../errors.js";
import type { ClaimRef } from "../modules/idempotency/idempotency-dal.js";
import { IdempotencyInProgressError, type IdempotencyService } from "../modules/idempotency/idempotency-service.js";
import { authContext } from "./auth.js";

export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
export const REPLAYED_HEADER = "idempotent-replayed";
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;
const PURGE_EVERY_MS = 60 * 60 * 1000;
const JSON_TYPE = "application/json; charset=utf-8";

/** The header as routes declare it (a loose object: every other header passes through untouched). */
export const IdempotencyKeyHeaders = z.looseObject({
  [IDEMPOTENCY_KEY_HEADER]: z
    .string()
    .regex(KEY_PATTERN, "must be 1-255 printable ASCII characters")
    .optional()
    .meta({
      description:
        "Makes the POST safe to retry. A retry with the same key and the same request (method, path, body bytes) replays " +
        "the first response (status and body, header `Idempotent-Replayed: true`) and writes nothing. The same key with a " +
        "different request: 409 `idempotency_key_reused`; while the first request still runs: 409 " +
        "`idempotency_request_in_progress`. 2xx and 4xx results are stored; a 5xx is not (retry with the same key). Keys " +
        "belong to your org and are kept 24 h.",
      example: "6f1c2a9e-8d1b-4c55-9a8e-3b7c0d2f4e11",
    }),
});

/** Inside a transaction: stores `body` as this request's response, or throws when the claim is no longer ours. */
export type RecordInTransaction = (tx: DbClient, body: object) => Promise<void>;

export interface IdempotencyState {
  claim: ClaimRef;
  /**
   * The status whose response a transaction of the endpoint recorded. That transaction committed exactly when
   * the endpoint then answers with this status (a retried or failed one rolled back and answers otherwise):
   * onSend then stores nothing more.
   */
  recordedStatus?: number;
  /** Set when the claim turned out to be another request's by now: nothing of ours may be stored. */
  claimLost: boolean;
  /** For endpoints that commit their effects and the stored response together. */
  inTransaction(statusCode: number): RecordInTransaction;
}

declare module "fastify" {
  interface FastifyRequest {
    idempotency?: IdempotencyState;
  }
  interface FastifyInstance {
    idempotent: preHandlerHookHandler;
  }
}

function keyOf(request: FastifyRequest): string | undefined {
  // Node joins a repeated header into one value: refuse it rather than guess which one was meant.
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === IDEMPOTENCY_KEY_HEADER) count++;
  if (count > 1) throw new BadRequestError("Idempotency-Key must be sent once", "invalid_idempotency_key");
  const value = request.headers[IDEMPOTENCY_KEY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !KEY_PATTERN.test(value)) {
    throw new BadRequestError("Idempotency-Key must be 1-255 printable ASCII characters", "invalid_idempotency_key");
  }
  return value;
}

/** What "the same request" means: method, path (with query) and the exact body bytes. */
function requestHash(request: FastifyRequest): string {
  return createHash("sha256")
    .update(`${request.method}\n${request.url}\n`)
    .update(request.rawJson ?? "", "utf8")
    .digest("hex");
}

/** The body text as sent, when it is JSON text we can replay byte for byte. */
function jsonText(reply: FastifyReply, payload: unknown): string | undefined {
  const type = String(reply.getHeader("content-type") ?? "");
  return typeof payload === "string" && type.startsWith("application/json") ? payload : undefined;
}

export default fp<{ idempotency: IdempotencyService }>(async (app, { idempotency }) => {
  app.decorateRequest("idempotency", undefined);

  const idempotent: preHandlerHookHandler = async (request, reply) => {
    const key = keyOf(request);
    if (key === undefined) return;
    let outcome: Awaited<ReturnType<IdempotencyService["begin"]>>;
    try {
      outcome = await idempotency.begin({
        orgId: authContext(request).orgId,
        key,
        route: `${request.method} ${request.routeOptions.url ?? request.url}`,
        requestHash: requestHash(request),
      });
    } catch (err) {
      if (err instanceof IdempotencyInProgressError) reply.header("retry-after", "1");
      throw err;
    }
    if (outcome.kind === "replay") {
      reply.header(REPLAYED_HEADER, "true").code(outcome.statusCode).type(JSON_TYPE);
      return reply.send(outcome.bodyText);
    }
    const state: IdempotencyState = {
      claim: outcome.claim,
      claimLost: false,
      inTransaction: (statusCode) => async (tx, body) => {
        // The exact text the route will send: its serializer for this status (reply.serialize reads the code).
        const serialized = reply.code(statusCode).serialize(body);
        const bodyText = typeof serialized === "string" ? serialized : Buffer.from(serialized as Uint8Array).toString("utf8");
        if (!(await idempotency.complete(outcome.claim, { statusCode, bodyText }, tx))) {
          state.claimLost = true; // our claim went stale and a retry took the key over: roll back, store nothing
          throw new IdempotencyInProgressError();
        }
        state.recordedStatus = statusCode;
      },
    };
    request.idempotency = state;
  };
  app.decorate("idempotent", idempotent);

  app.addHook("onSend", async (request, reply, payload) => {
    const state = request.idempotency;
    request.idempotency = undefined; // settle once
    if (!state || state.claimLost) return payload;
    try {
      if (reply.statusCode >= 500) {
        // Not a result: let a retry execute. (A transaction that recorded the response and committed left the
        // row completed; release only removes an in_progress claim.)
        await idempotency.release(state.claim);
      } else if (state.recordedStatus !== reply.statusCode) {
        const bodyText = jsonText(reply, payload);
        if (bodyText === undefined) await idempotency.release(state.claim); // nothing we could replay faithfully
        else await idempotency.complete(state.claim, { statusCode: reply.statusCode, bodyText });
      }
    } catch (err) {
      // The response still goes out; the key stays in_progress until STALE_CLAIM_MS, then a retry executes.
      request.log.error({ err }, "could not store the response of an idempotent request");
    }
    return payload;
  });

  let purgeTimer: NodeJS.Timeout | undefined;
  app.addHook("onReady", async () => {
    purgeTimer = setInterval(() => {
      idempotency.purgeExpired().catch((err: unknown) => app.log.warn({ err }, "could not purge expired idempotency keys"));
    }, PURGE_EVERY_MS);
    purgeTimer.unref();
  });
  app.addHook("onClose", async () => clearInterval(purgeTimer));
});
