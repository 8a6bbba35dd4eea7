// RFC 3339 timestamps from callers, read exactly: to the microsecond, as an instant, in a form PostgreSQL
// always accepts. A JS Date cannot do this (it drops sub-millisecond digits, and its ISO output for a year
// beyond 9999 is a "+010000-…" PostgreSQL refuses), and handing the caller's text to PostgreSQL as is fails for
// texts it cannot read although they name a real instant: year 0000 (1 BC), an offset beyond ±15:59, a
// leap second. Every text of the grammar below is one instant and is accepted.

/** RFC 3339 date-time with a timezone: seconds 00-60 (a leap second), any number of fraction digits, offsets up to ±23:59. */
export const TIMESTAMP_PATTERN =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)(?:\.(\d+))?(?:Z|([+-])([01]\d|2[0-3]):([0-5]\d))$/;

/** Microseconds since 1970-01-01T00:00:00Z. */
export type Micros = bigint;

const US_PER_SECOND = 1_000_000n;
const US_PER_DAY = 86_400n * US_PER_SECOND;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil; year 0 is 1 BC). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysIn = (y: number, m: number) => [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;

/**
 * The instant a timestamp names, in whole microseconds, rounded UP when it has finer digits: for values stored
 * at microsecond (or coarser) precision, `t >= ceil(x)` and `t < ceil(x)` are exactly `t >= x` and `t < x`.
 * A leap second (":60") is the first second of the next minute, as in PostgreSQL and POSIX time. Undefined when
 * the text is not a timestamp (wrong shape, or a day the month does not have).
 */
export function parseInstant(text: string): Micros | undefined {
  const m = TIMESTAMP_PATTERN.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (day > daysIn(year, month)) return undefined;
  const fraction = m[7] ?? "";
  let micros = BigInt(fraction.slice(0, 6).padEnd(6, "0"));
  if (/[1-9]/.test(fraction.slice(6))) micros += 1n;
  const offsetMinutes = m[8] ? (m[8] === "-" ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) : 0;
  const seconds = BigInt(daysFromCivil(year, month, day)) * 86_400n + BigInt(hour * 3600 + minute * 60 + second - offsetMinutes * 60);
  return seconds * US_PER_SECOND + micros;
}

const pad = (n: number | bigint, width: number) => String(n).padStart(width, "0");

/**
 * The instant as text PostgreSQL's timestamptz input reads back exactly: UTC, six fraction digits, the year as
 * PostgreSQL writes it (more than four digits after 9999; "… BC" for year 0 and before, since year 0 is 1 BC).
 */
export function instantText(us: Micros): string {
  const days = us >= 0n ? us / US_PER_DAY : -((-us + US_PER_DAY - 1n) / US_PER_DAY);
  const inDay = us - days * US_PER_DAY;
  const { year, month, day } = civilFromDays(Number(days));
  const secs = Number(inDay / US_PER_SECOND);
  const clock = `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(inDay % US_PER_SECOND, 6)}Z`;
  const date = `${pad(year > 0 ? year : 1 - year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
  return year > 0 ? `${date}T${clock}` : `${date}T${clock} BC`;
}
