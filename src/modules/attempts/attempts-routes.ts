import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses } from "../../http/openapi.js";
import { authContext, requireScope } from "../../plugins/auth.js";
import type { AttemptsService } from "./attempts-service.js";
import { z } from "zod";
import { attemptsCsvStream, exportFileName } from "./attempts-csv.js";
import { ATTEMPTS_CSV_HEADER, AttemptsExportQuery, AttemptsListResponse, AttemptsQuery } from "./attempts-schemas.js";

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

  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/identity/attempts/export",
    {
      onRequest: [app.authenticate, app.rateLimitFor("identity.attempts.export"), requireScope("verifications:view")],
      schema: {
        summary: "Every verification attempt matching the filters, newest first, as CSV (streamed)",
        description:
          `The listing's filters, no paging: every match, newest first. Header row exactly \`${ATTEMPTS_CSV_HEADER}\`; ` +
          "RFC 4180 quoting, CRLF line ends; a cell starting with =, +, -, @, a tab or a CR is prefixed with ' so a " +
          "spreadsheet never runs it as a formula. Streamed with keyset paging: constant memory, no timeout.",
        tags: ["verifications"],
        querystring: AttemptsExportQuery,
        response: {
          200: {
            description: "The CSV (Content-Disposition: attachment)",
            content: { "text/csv": { schema: z.string().describe(`text/csv; charset=utf-8, header row ${ATTEMPTS_CSV_HEADER}`) } },
          },
          ...errorResponses(400, 401, 403, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { orgId } = authContext(request);
      const csv = await attemptsCsvStream(attempts.exportPages(orgId, request.query));
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${exportFileName(orgId, new Date())}"`)
        .send(csv as unknown as string); // a stream: Fastify pipes it (the schema types the body as the text it becomes)
    },
  );
}
