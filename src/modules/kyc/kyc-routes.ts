import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses } from "../../http/openapi.js";
import { authContext, requireScope } from "../../plugins/auth.js";
import type { KycService } from "./kyc-service.js";
import { KycDetailResponse, KycParams } from "./kyc-schemas.js";

export async function kycRoutes(app: FastifyInstance, { kyc }: { kyc: KycService }) {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/identity/kyc/:customerId",
    {
      onRequest: [app.authenticate, app.rateLimitFor("identity.kyc.read"), requireScope("customers:view")],
      schema: {
        summary: "A customer's KYC detail: stored tier, eligible tier, verifications and tier history",
        tags: ["kyc"],
        params: KycParams,
        response: { 200: KycDetailResponse, ...errorResponses(400, 401, 403, 404, 414, 429, 500, 503) },
      },
    },
    async (request) => kyc.detail(authContext(request).orgId, request.params.customerId),
  );
}
