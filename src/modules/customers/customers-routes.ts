import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { authContext, requireScope } from "../../plugins/auth.js";
import { IdempotencyKeyHeaders } from "../../plugins/idempotency.js";
import type { CustomersService } from "./customers-service.js";
import { CreateCustomerBody } from "./customers-schemas.js";

export async function customersRoutes(app: FastifyInstance, { customers }: { customers: CustomersService }) {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/customers",
    {
      onRequest: [app.authenticate, app.rateLimitFor("customers.create"), requireScope("customers:write")],
      preHandler: app.idempotent,
      schema: { body: CreateCustomerBody, headers: IdempotencyKeyHeaders },
    },
    async (request, reply) => {
      const data = await customers.create(authContext(request).orgId, request.body ?? {});
      return reply.code(201).send({ data });
    },
  );
}
