import { createHash } from "node:crypto";
import { z } from "zod";
import { instantText, parseInstant, TIMESTAMP_PATTERN, type Micros } from "../../http/instant.js";
import { CUID_PATTERN } from "../../ids.js";
import { VERIFICATION_METHODS, VERIFICATION_STATUSES } from "../../kyc/tier.js";

export const ATTEMPTS_PAGE = { defaultLimit: 20, maxLimit: 100 } as const;

/**
 * A keyset position: the (createdAt, id) of the last row served, the page number the next page has, and the
 * scope it belongs to (a digest of the filters and limit that made it: a cursor sent with other ones would
 * silently serve a page of some other listing, so it is refused). Opaque to clients: base64url of
 * "<createdAt ms>.<id>.<page>.<scope>".
 */
export interface AttemptsCursor {
  createdAt: Date;
  id: string;
  page: number;
  scope: string;
}

const CURSOR_TEXT = /^(\d{1,15})\.([A-Za-z0-9_]{1,64})\.(\d{1,9})\.([A-Za-z0-9_-]{11})$/;
/** The last instant a stored row can have that a cursor carries (a Date's ISO text keeps four year digits up to here). */
const CURSOR_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A `from`/`to` filter: the instant (exact to the microsecond) and its text for PostgreSQL (see http/instant.ts). */
export interface FilterInstant {
  us: Micros;
  text: string;
}

/** What a cursor is bound to: the listing's filters (timestamps compared as instants) and page size. */
export function cursorScope(q: { method?: string; status?: string; customerId?: string; from?: FilterInstant; to?: FilterInstant; limit?: number }): string {
  const instant = (t?: FilterInstant) => (t === undefined ? null : t.text);
  const listing = [q.method ?? null, q.status ?? null, q.customerId ?? null, instant(q.from), instant(q.to), q.limit ?? ATTEMPTS_PAGE.defaultLimit];
  return createHash("sha256").update(JSON.stringify(listing)).digest("base64url").slice(0, 11);
}

export function encodeCursor(c: AttemptsCursor): string {
  return Buffer.from(`${c.createdAt.getTime()}.${c.id}.${c.page}.${c.scope}`, "utf8").toString("base64url");
}

export function decodeCursor(s: string): AttemptsCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(s)) return undefined;
  const m = CURSOR_TEXT.exec(Buffer.from(s, "base64url").toString("utf8"));
  if (!m) return undefined;
  const page = Number(m[3]);
  const ms = Number(m[1]);
  // Only a stored row's instant can be in a cursor we made: a far-future one was crafted.
  if (page < 2 || ms > CURSOR_MAX_MS) return undefined;
  return { createdAt: new Date(ms), id: m[2]!, page, scope: m[4]! };
}

/**
 * A whole number sent in the query string ("20"): digits only (no sign, exponent, spaces or hex, which
 * Number() would take), then the integer with its bounds, which is also what the contract documents.
 */
const wholeNumber = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^\d{1,9}$/.test(v) ? Number(v) : v),
    z
      .number({ error: "must be a whole number" })
      .int("must be a whole number")
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );

const TIMESTAMP_MESSAGE = "must be an ISO 8601 timestamp with a timezone, e.g. 2026-11-18T00:00:00Z";
// A "+" in an unencoded query string arrives as a space; "2026-11-18T00:00:00 07:00" means "+07:00". Every
// timestamp of the grammar names one instant and is accepted (year 0000, an offset up to ±23:59, a leap second,
// any number of fraction digits), normalised to one PostgreSQL reads exactly.
const timestamp = z.preprocess(
  (v) => (typeof v === "string" ? v.replace(/^(\S+T[\d:.]+) (\d\d:?\d\d)$/, "$1+$2") : v),
  z
    .string()
    .regex(TIMESTAMP_PATTERN, TIMESTAMP_MESSAGE)
    .meta({ format: "date-time" })
    .transform((s, ctx): FilterInstant => {
      const us = parseInstant(s);
      if (us === undefined) {
        ctx.addIssue({ code: "custom", message: `${TIMESTAMP_MESSAGE} (that day does not exist)` });
        return z.NEVER;
      }
      return { us, text: instantText(us) };
    }),
);

/** The listing's filters, shared by the listing and the export. */
const FILTERS = {
  method: z.enum(VERIFICATION_METHODS).optional(),
  status: z.enum(VERIFICATION_STATUSES).optional(),
  customerId: z.string().regex(CUID_PATTERN, "must be a CUID").optional(),
  from: timestamp.optional().describe("only attempts created at or after this instant"),
  to: timestamp.optional().describe("only attempts created before this instant"),
};

function fromBeforeTo(q: { from?: FilterInstant; to?: FilterInstant }, ctx: z.RefinementCtx) {
  if (q.from && q.to && q.from.us >= q.to.us) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
}

export const AttemptsQuery = z
  .strictObject({
    ...FILTERS,
    page: wholeNumber(1, 1_000_000).optional().describe("1-based page number (OFFSET paging; prefer cursor for deep pages)"),
    limit: wholeNumber(1, ATTEMPTS_PAGE.maxLimit).optional().describe(`page size, default ${ATTEMPTS_PAGE.defaultLimit}`),
    cursor: z
      .string()
      .transform((s, ctx) => {
        const c = decodeCursor(s);
        if (!c) {
          ctx.addIssue({ code: "custom", message: "is not a cursor this API returned" });
          return z.NEVER;
        }
        return c;
      })
      .optional()
      .describe("meta.nextCursor of the previous page (keyset paging); send the same filters and limit"),
  })
  .superRefine((q, ctx) => {
    fromBeforeTo(q, ctx);
    if (q.cursor && q.page !== undefined) ctx.addIssue({ code: "custom", path: ["page"], message: "cannot be combined with cursor" });
    else if (q.cursor && q.cursor.scope !== cursorScope(q)) {
      ctx.addIssue({ code: "custom", path: ["cursor"], message: "was made for other filters or another limit: send the same ones as the page it came from" });
    }
  });
export type AttemptsQueryInput = z.output<typeof AttemptsQuery>;

export const AttemptItem = z.object({
  id: z.string(),
  customerId: z.string(),
  method: z.enum(VERIFICATION_METHODS),
  status: z.enum(VERIFICATION_STATUSES),
  score: z.number().int().nullable(),
  reason: z.string().nullable(),
  createdAt: z.string(),
  apiKey: z.object({ id: z.string(), prefix: z.string() }).nullable().describe("the API key that submitted the attempt (never the key itself)"),
});
export type AttemptItem = z.infer<typeof AttemptItem>;

export const AttemptsListResponse = z.object({
  data: z.array(AttemptItem),
  total: z.number().int().describe("matching attempts: exact when meta.totalExact, else the database's estimate"),
  page: z.number().int(),
  limit: z.number().int(),
  meta: z.object({
    pages: z.number().int(),
    totalExact: z.boolean(),
    nextCursor: z.string().nullable().describe("pass as cursor for the next page; null on the last page"),
  }),
});
export type AttemptsList = z.infer<typeof AttemptsListResponse>;

/** The export's query: the listing's filters, no paging (it returns every match). */
export const AttemptsExportQuery = z.strictObject(FILTERS).superRefine(fromBeforeTo);
export type AttemptsExportQueryInput = z.output<typeof AttemptsExportQuery>;

/** The export's header row, exactly (the compliance console spec). */
export const ATTEMPTS_CSV_HEADER = "id,customerId,method,status,score,reason,createdAt,apiKeyPrefix";
