// The console's routes: sign-in and sign-out, then the signed-in pages, which read through the same services
// as the API (attempts.list, attempts.exportPages, kyc.detail) with the analyst's org as the tenant.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { VERIFICATION_METHODS, VERIFICATION_STATUSES } from "../../kyc/tier.js";
import { attemptsCsvStream, exportFileName } from "../attempts/attempts-csv.js";
import { AttemptsExportQuery, AttemptsQuery } from "../attempts/attempts-schemas.js";
import { SignInThrottledError, type ConsoleSessionContext } from "../console-sessions/console-sessions-types.js";
import { KycParams } from "../kyc/kyc-schemas.js";
import type { ConsoleOptions } from "./console-plugin.js";
import { FILTER_FIELDS, queryString, referenceColumns, renderError, type FilterValues } from "./console-views.js";

declare module "fastify" {
  interface FastifyRequest {
    consoleSession?: ConsoleSessionContext;
  }
}

export const SESSION_COOKIE = "qe_console_session";
export const LOGIN_COOKIE = "qe_console_login";
/** Rows per page of the attempts table. */
export const CONSOLE_PAGE_ROWS = 50;

type Form = Record<string, string | undefined>;

/** The query as the listing's schema reads it: empty form fields mean "no filter". */
function cleanQuery(query: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, string | string[]>)) if (v !== "") out[k] = v;
  return out;
}

function fieldErrorsOf(error: z.ZodError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const fields = issue.code === "unrecognized_keys" ? issue.keys : [String(issue.path[0] ?? "query")];
    const message = issue.code === "unrecognized_keys" ? "is not a filter of this page" : issue.message;
    for (const f of fields) (out[f] ??= []).push(message);
  }
  return out;
}

export async function consoleRoutes(app: FastifyInstance, { services, secureCookies }: ConsoleOptions) {
  const { consoleSessions: sessions, attempts, kyc, orgs } = services;
  const cookieOptions = { httpOnly: true, sameSite: "strict" as const, path: "/console", secure: secureCookies };
  const clientOf = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers["user-agent"] });

  async function loginPage(request: FastifyRequest, reply: FastifyReply, status: number, extra: { message?: string; email?: string } = {}) {
    const form = sessions.loginForm(request.cookies[LOGIN_COOKIE]);
    reply.setCookie(LOGIN_COOKIE, form.cookie, { ...cookieOptions, maxAge: 3600 });
    return reply.code(status).viewAsync("login", { title: "Sign in", csrf: form.field, email: extra.email ?? "", message: extra.message });
  }

  app.get("/login", async (request, reply) => {
    if (await sessions.authenticate(request.cookies[SESSION_COOKIE])) return reply.redirect("/console/attempts", 303);
    return loginPage(request, reply, 200);
  });

  app.post("/login", async (request, reply) => {
    const form = (request.body ?? {}) as Form;
    const email = (form.email ?? "").slice(0, 320);
    if (!sessions.loginFormValid(request.cookies[LOGIN_COOKIE], form.csrf)) {
      return loginPage(request, reply, 403, { message: "This sign-in form has expired. Please sign in again.", email });
    }
    let result: Awaited<ReturnType<typeof sessions.signIn>>;
    try {
      result = await sessions.signIn({ email, password: form.password ?? "", client: clientOf(request) });
    } catch (err) {
      if (!(err instanceof SignInThrottledError)) throw err;
      request.log.warn({ ip: request.ip }, "console sign-in refused: too many failures");
      reply.header("retry-after", String(err.retryAfterSeconds));
      const minutes = Math.ceil(err.retryAfterSeconds / 60);
      return loginPage(request, reply, 429, { message: `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`, email });
    }
    if (!result.ok) return loginPage(request, reply, 401, { message: "The email or password is not correct.", email });
    reply.setCookie(SESSION_COOKIE, result.token, cookieOptions);
    reply.clearCookie(LOGIN_COOKIE, cookieOptions);
    return reply.redirect("/console/attempts", 303);
  });

  app.post("/logout", async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    const session = await sessions.authenticate(token);
    if (session) {
      if (!sessions.csrfMatches(token!, (request.body as Form | undefined)?.csrf)) {
        return renderError(reply, 403, "This sign-out form did not come from your session. Use the Sign out button of a console page.");
      }
      await sessions.signOut(session, clientOf(request));
    }
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return reply.redirect("/console/login", 303);
  });

  // Signed-in pages: no valid session, no page (303 to the sign-in form).
  await app.register(async (pages) => {
    pages.addHook("onRequest", async (request, reply) => {
      const session = await sessions.authenticate(request.cookies[SESSION_COOKIE]);
      if (!session) {
        if (request.cookies[SESSION_COOKIE] !== undefined) reply.clearCookie(SESSION_COOKIE, cookieOptions);
        return reply.redirect("/console/login", 303);
      }
      request.consoleSession = session;
    });

    const pageData = async (request: FastifyRequest) => {
      const session = request.consoleSession!;
      return { session, org: await orgs.get(session.orgId) };
    };

    pages.get("/", async (_request, reply) => reply.redirect("/console/attempts", 303));

    pages.get("/attempts", async (request, reply) => {
      const query = cleanQuery(request.query);
      const filters: FilterValues = {};
      for (const f of FILTER_FIELDS) if (typeof query[f] === "string") filters[f] = query[f] as string;
      const parsed = AttemptsQuery.safeParse({ limit: String(CONSOLE_PAGE_ROWS), ...query });
      const base = { ...(await pageData(request)), title: "Verification attempts", filters, methods: VERIFICATION_METHODS, statuses: VERIFICATION_STATUSES };
      if (!parsed.success) {
        return reply.code(400).viewAsync("attempts", { ...base, errors: fieldErrorsOf(parsed.error), list: undefined });
      }
      const list = await attempts.list(request.consoleSession!.orgId, parsed.data);
      const limit = query.limit === undefined ? undefined : list.limit;
      const next = list.meta.nextCursor ? `/console/attempts${queryString({ ...filters, limit, cursor: list.meta.nextCursor })}` : undefined;
      return reply.viewAsync("attempts", {
        ...base,
        errors: {},
        list,
        next,
        first: list.page > 1 ? `/console/attempts${queryString({ ...filters, limit })}` : undefined,
        exportHref: `/console/attempts.csv${queryString(filters)}`,
      });
    });

    pages.get("/attempts.csv", async (request, reply) => {
      const parsed = AttemptsExportQuery.safeParse(cleanQuery(request.query));
      if (!parsed.success) {
        const errors = Object.entries(fieldErrorsOf(parsed.error)).map(([f, m]) => `${f}: ${m.join("; ")}`);
        return renderError(reply, 400, `The export's filters are not valid (${errors.join(" · ")}).`);
      }
      const { orgId } = request.consoleSession!;
      const csv = await attemptsCsvStream(attempts.exportPages(orgId, parsed.data));
      return reply.type("text/csv; charset=utf-8").header("content-disposition", `attachment; filename="${exportFileName(orgId, new Date())}"`).send(csv);
    });

    pages.get("/customers/:customerId", async (request, reply) => {
      const params = KycParams.safeParse(request.params);
      if (!params.success) return renderError(reply, 404, "There is no such customer in your organisation.");
      const detail = await kyc.detail(request.consoleSession!.orgId, params.data.customerId).catch((err: unknown) => {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
      });
      if (!detail) return renderError(reply, 404, "There is no such customer in your organisation.");
      return reply.viewAsync("customer", {
        ...(await pageData(request)),
        title: `Customer ${detail.customer.id}`,
        detail,
        referenceColumns: referenceColumns(detail.references),
      });
    });
  });
}
