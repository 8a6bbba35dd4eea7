// The attempts export as CSV (RFC 4180: CRLF line ends, a field with a comma, quote, CR or LF in quotes, quotes
// doubled). A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a CR) gets a
// leading ' first (OWASP "CSV injection"), so a bank-supplied reason can never become a formula.
import { Readable } from "node:stream";
import type { AttemptRow } from "./attempts-dal.js";
import { ATTEMPTS_CSV_HEADER } from "./attempts-schemas.js";

const FORMULA_START = /^[=+\-@\t\r]/;
const CHUNK_ROWS = 100;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: string | number | null): string {
  if (value === null) return "";
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(r: AttemptRow): string {
  return `${[r.id, r.customerId, r.method, r.status, r.score, r.reason, r.createdAt.toISOString(), r.apiKeyPrefix].map(csvCell).join(",")}\r\n`;
}

/**
 * The CSV as a stream: one chunk per page, pulled only as fast as the client reads (Readable.from's
 * backpressure), so memory holds about one page whatever the size. The first page is read before anything
 * is sent, so a database that is down is still a clean 503, not a 200 cut short. When the client goes away
 * the stream is destroyed, which returns the page iterator: the query loop stops.
 */
export async function attemptsCsvStream(pages: AsyncGenerator<AttemptRow[]>): Promise<Readable> {
  let first: IteratorResult<AttemptRow[]>;
  try {
    first = await pages.next();
  } catch (err) {
    await pages.return(undefined);
    throw err;
  }
  return Readable.from(
    (async function* () {
      try {
        yield `${ATTEMPTS_CSV_HEADER}\r\n`;
        if (first.done) return;
        let page: AttemptRow[] | undefined = first.value;
        first = { done: true, value: undefined };
        while (page) {
          // Small chunks, so every string is short-lived young-generation garbage (a whole page as one
          // string would land in V8's large-object space and pile up until a full GC).
          for (let i = 0; i < page.length; i += CHUNK_ROWS) {
            let chunk = "";
            for (const r of page.slice(i, i + CHUNK_ROWS)) chunk += csvRow(r);
            yield chunk;
          }
          page = undefined;
          const next = await pages.next();
          page = next.done ? undefined : next.value;
        }
      } finally {
        await pages.return(undefined);
      }
    })(),
    { objectMode: false },
  );
}

/** attempts-<org>-<UTC timestamp>.csv: only characters that need no quoting in Content-Disposition. */
export function exportFileName(orgId: string, at: Date): string {
  return `attempts-${orgId.replace(/[^A-Za-z0-9_-]/g, "")}-${at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}.csv`;
}
