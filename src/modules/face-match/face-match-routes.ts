import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses } from "../../http/openapi.js";
import { PHOTO_REQUEST_BODY_BYTES } from "../../photo/photo-field.js";
import { authContext, requireScope } from "../../plugins/auth.js";
import { IdempotencyKeyHeaders } from "../../plugins/idempotency.js";
import { FaceMatchBody, FaceMatchResponse } from "./face-match-schemas.js";
import type { FaceMatchService } from "./face-match-service.js";

export async function faceMatchRoutes(app: FastifyInstance, { faceMatch }: { faceMatch: FaceMatchService }) {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/identity/face/match",
    {
      bodyLimit: PHOTO_REQUEST_BODY_BYTES,
      onRequest: [app.authenticate, app.rateLimitFor("identity.face.match"), requireScope("verifications:view")],
      preHandler: app.idempotent,
      schema: {
        summary: "Match a live selfie against the customer's best current face reference (Dukcapil first); records the verification and raises the tier",
        tags: ["verifications"],
        body: FaceMatchBody,
        headers: IdempotencyKeyHeaders,
        response: { 201: FaceMatchResponse, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const auth = authContext(request);
      // The match and its replayable response (Idempotency-Key) commit in one transaction.
      const result = await faceMatch.match(
        { orgId: auth.orgId, apiKeyId: auth.keyId, requestId: request.id, customerId: request.body.customerId, photo: request.body.photo },
        { alsoInTransaction: request.idempotency?.inTransaction(201) },
      );
      return reply.code(201).send(result);
    },
  );
}
