import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../../http/openapi.js";
import { authContext, requireScope } from "../../plugins/auth.js";
import { IdempotencyKeyHeaders } from "../../plugins/idempotency.js";
import type { CustomersService } from "./customers-service.js";
import { CreateCustomerBody, CustomerData } from "./customers-schemas.js";

export async function customersRoutes(app: FastifyInstance, { customers }: { customers: CustomersService }) {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/customers",
    {
      onRequest: [app.authenticate, app.rateLimitFor("customers.create"), requireScope("customers:write")],
      // The body is optional: a POST with no body and no Content-Type is the same as {}. (A JSON null is still a 400.)
      preValidation: async (request) => {
        if (request.body == null && request.headers["content-type"] === undefined) request.body = {};
      },
      preHandler: app.idempotent,
      schema: {
        summary: "Create a customer",
        tags: ["customers"],
        body: CreateCustomerBody,
        headers: IdempotencyKeyHeaders,
        response: { 201: z.object({ data: CustomerData }), ...errorResponses(400, 401, 403, 409, 413, 415, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const data = await customers.create(authContext(request).orgId, request.body ?? {});
      return reply.code(201).send({ data: data as z.output<typeof CustomerData> }); // the serializer checks it against CustomerData
    },
  );
}
