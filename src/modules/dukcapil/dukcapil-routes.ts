import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { PayloadTooLargeError } from "../../errors.js";
import { errorResponses } from "../../http/openapi.js";
import { memberSourceText } from "../../http/json-member.js";
import { authContext, requireCapability, requireScope } from "../../plugins/auth.js";
import { IdempotencyKeyHeaders } from "../../plugins/idempotency.js";
import type { DukcapilService } from "./dukcapil-service.js";
import { DukcapilVerdictBody, DukcapilVerdictResponse, INGEST_LIMITS } from "./dukcapil-schemas.js";

export async function dukcapilRoutes(app: FastifyInstance, { dukcapil }: { dukcapil: DukcapilService }) {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/identity/nik/dukcapil",
    {
      bodyLimit: INGEST_LIMITS.bodyBytes,
      onRequest: [
        app.authenticate,
        app.rateLimitFor("identity.nik.dukcapil"),
        requireScope("verifications:view"),
        requireCapability("dukcapilEnabled"),
      ],
      preHandler: app.idempotent,
      schema: {
        summary: "Ingest a Dukcapil verdict and the official photo: records the verification, enrols the photo, raises the KYC tier",
        tags: ["verifications"],
        body: DukcapilVerdictBody,
        headers: IdempotencyKeyHeaders,
        response: { 201: DukcapilVerdictResponse, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const auth = authContext(request);
      const body = request.body;
      // `raw` is stored byte-for-byte as the bank sent it, not re-serialised.
      const rawText = body.raw ? memberSourceText(request.rawJson ?? "", "raw") : undefined;
      if (rawText !== undefined && Buffer.byteLength(rawText, "utf8") > INGEST_LIMITS.rawBytes) {
        throw new PayloadTooLargeError(`raw envelope exceeds ${INGEST_LIMITS.rawBytes} bytes`);
      }
      // The verdict and its replayable response (Idempotency-Key) commit in one transaction.
      const result = await dukcapil.ingest(
        {
          orgId: auth.orgId,
          apiKeyId: auth.keyId,
          requestId: request.id,
          customerId: body.customerId,
          valid: body.valid,
          photo: body.valid ? (body.photo ?? undefined) : undefined, // a declined verdict's photo is not kept
          rawText,
          reason: body.reason ?? undefined,
        },
        { alsoInTransaction: request.idempotency?.inTransaction(201) },
      );
      return reply.code(201).send(result);
    },
  );
}
