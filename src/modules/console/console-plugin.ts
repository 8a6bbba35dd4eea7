// The compliance console's scope (registered in app.ts under /console): browser-facing, so it has what the
// JSON API must not: HTML forms (application/x-www-form-urlencoded only, 8 KiB), cookies, server-rendered
// pages (eta through @fastify/view; auto-escaping on), HTML error and not-found pages, and a CSP that lets a
// page load its own stylesheet but run no script at all. Helmet's other headers, Cache-Control: no-store and
// the refusal of a key in the URL come from the root and apply here too. Being outside the API scope, none
// of its routes reaches the OpenAPI document.
import { readFileSync } from "node:fs";
import path from "node:path";
import cookie from "@fastify/cookie";
import view from "@fastify/view";
import { Eta } from "eta";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { databaseFailureOf } from "../../db/errors.js";
import { AppError } from "../../errors.js";
import type { Services } from "../../services.js";
import { consoleRoutes } from "./console-routes.js";
import { formatTime, renderError } from "./console-views.js";

export const CONSOLE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const FORM_BODY_LIMIT = 8 * 1024;
const VIEWS = path.join(import.meta.dirname, "views");
const STYLESHEET = readFileSync(path.join(import.meta.dirname, "static", "console.css"));

export interface ConsoleOptions {
  services: Pick<Services, "attempts" | "kyc" | "orgs" | "consoleSessions">;
  /** Secure cookies (NODE_ENV=production: the service sits behind TLS). */
  secureCookies: boolean;
}

class FormError extends AppError {}

/** application/x-www-form-urlencoded → one string per field; a field sent twice is refused, not guessed at. */
function parseForm(_request: FastifyRequest, body: string, done: (err: Error | null, value?: Record<string, string>) => void) {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in out) return done(new FormError(400, `form field "${name.slice(0, 40)}" sent twice`, "bad_form"));
    out[name] = value;
  }
  done(null, out);
}

export default async function consolePlugin(scope: FastifyInstance, opts: ConsoleOptions) {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: FORM_BODY_LIMIT }, (req, body, done) =>
    parseForm(req, body as string, done),
  );
  scope.addContentTypeParser("*", (_req, _payload, done) => done(new FormError(415, "forms must be sent as application/x-www-form-urlencoded", "unsupported_media_type")));

  await scope.register(cookie);
  // Eta: `<%= %>` escapes & < > " ' (autoEscape, its default, set explicitly); `<%~ %>` (raw) is used only for
  // the layout's body, which is this engine's own output.
  const eta = new Eta({ views: VIEWS, autoEscape: true, cache: true, functionHeader: "" });
  await scope.register(view, { engine: { eta }, templates: VIEWS, production: true, defaultContext: { formatTime } });

  scope.addHook("onRequest", async (_request, reply) => {
    reply.header("content-security-policy", CONSOLE_CSP); // replaces the API's default-src 'none' for pages
  });

  scope.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, request, reply) => {
    let status = 500;
    let message = "Something went wrong on our side. Quote the request id below if you report it.";
    if (err instanceof AppError) {
      status = err.statusCode;
      message = err.message;
      reply.headers(err.headers);
    } else if (hasZodFastifySchemaValidationErrors(err)) {
      status = 400;
      message = "The request was not valid.";
    } else if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      status = 413;
      message = "The form was larger than this page accepts.";
    } else if (databaseFailureOf(err)) {
      // busy, down or a conflict that outlasted its retries: the database's state, not a bug
      status = 503;
      message = "The database is unavailable right now. Try again in a few seconds.";
      reply.header("retry-after", "5");
    } else if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      message = "The request was not valid.";
    }
    if (status >= 500) request.log.error({ err }, "console request failed");
    else request.log.info({ status, code: err.code }, "console request refused");
    return renderError(reply, status, message);
  });
  scope.setNotFoundHandler((_request, reply) => renderError(reply, 404, "There is no such page."));

  scope.get(
    "/static/console.css",
    {
      // after the root's onSend (which makes everything no-store): a stylesheet holds no data and may be cached
      onSend: async (_request, reply, payload) => {
        reply.header("cache-control", "public, max-age=3600");
        return payload;
      },
    },
    async (_request, reply) => reply.type("text/css; charset=utf-8").send(STYLESHEET),
  );
  await scope.register(consoleRoutes, { services: opts.services, secureCookies: opts.secureCookies }); // (opts also holds the prefix)
}
