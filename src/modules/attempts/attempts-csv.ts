// The attempts export as CSV (RFC 4180: CRLF line ends, a field with a comma, quote, CR or LF in quotes, quotes
// doubled). A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a CR) gets a
// leading ' first (OWASP "CSV injection"), so a bank-supplied reason can never become a formula.
import { Readable } from "node:stream";
import type { AttemptRow } from "./attempts-dal.js";
import { ATTEMPTS_CSV_HEADER } from "./attempts-schemas.js";

const FORMULA_START = /^[=+\-@\t\r]/;
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
  const rows = (page: AttemptRow[]) => {
    let chunk = "";
    for (const r of page) chunk += csvRow(r);
    return chunk;
  };
  return Readable.from(
    (async function* () {
      try {
        yield `${ATTEMPTS_CSV_HEADER}\r\n${first.done ? "" : rows(first.value)}`;
        if (first.done) return;
        for await (const page of { [Symbol.asyncIterator]: () => pages }) yield rows(page);
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
