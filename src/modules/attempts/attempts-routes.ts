import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
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
        response: { 200: AttemptsListResponse },
      },
    },
    async (request) => attempts.list(authContext(request).orgId, request.query),
  );
}
