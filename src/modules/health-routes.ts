import type { FastifyInstance } from "fastify";
import type { PrismaClient } from "../db/types.js";

const READY_TIMEOUT_MS = 2_000;

export async function healthRoutes(app: FastifyInstance, { prisma }: { prisma: PrismaClient }) {
  /** The process is alive and serving HTTP. */
  app.get("/healthz", async () => ({ status: "ok" }));

  /** The database answers within a bound; otherwise 503 so load balancers stop sending traffic. */
  app.get("/readyz", async (request, reply) => {
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
