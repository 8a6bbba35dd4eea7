import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { errorResponses } from "../http/openapi.js";
import type { PrismaClient } from "../db/types.js";

const READY_TIMEOUT_MS = 2_000;

export async function healthRoutes(app: FastifyInstance, { prisma }: { prisma: PrismaClient }) {
  /** The process is alive and serving HTTP. */
  app.get(
    "/healthz",
    { schema: { summary: "Liveness: the process serves HTTP", tags: ["health"], response: { 200: z.object({ status: z.literal("ok") }), ...errorResponses(400) } } },
    async () => ({ status: "ok" }),
  );

  /** The database answers within a bound; otherwise 503 so load balancers stop sending traffic. */
  // 400: like every route, a request with an API key in its URL is refused.
  const readySchema = { 200: z.object({ status: z.literal("ready") }), ...errorResponses(400, 503) };
  app.get("/readyz", { schema: { summary: "Readiness: the database answers within 2 s", tags: ["health"], response: readySchema } }, async (request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        prisma.$queryRaw`SELECT 1`,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("database ping timed out")), READY_TIMEOUT_MS);
        }),
      ]);
      return { status: "ready" };
    } catch (err) {
      request.log.warn({ err }, "readiness check failed");
      return reply.code(503).send({ error: "database unavailable", code: "unavailable", requestId: request.id });
    } finally {
      clearTimeout(timer);
    }
  });
}
