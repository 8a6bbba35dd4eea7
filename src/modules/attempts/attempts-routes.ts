import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses } from "../../http/openapi.js";
import { authContext, requireScope } from "../../plugins/auth.js";
import type { AttemptsService } from "./attempts-service.js";
import { AttemptsListResponse, AttemptsQuery } from "./attempts-schemas.js";

export async function attemptsRoutes(app: FastifyInstance, { attempts }: { attempts: AttemptsService }) {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/identity/attempts",
    {
      onRequest: [app.authenticate, app.rateLimitFor("identity.attempts.list"), requireScope("verifications:view")],
      schema: {
        summary: "Verification attempts of your org, newest first, filtered; paged by page or by keyset cursor",
        tags: ["verifications"],
        querystring: AttemptsQuery,
        response: { 200: AttemptsListResponse, ...errorResponses(400, 401, 403, 429, 500, 503) },
      },
    },
    async (request) => attempts.list(authContext(request).orgId, request.query),
  );
}
