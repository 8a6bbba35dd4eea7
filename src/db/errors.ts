// Which database failures are the database's state rather than a bug, and what to do about each: run the
// transaction again (a serialization failure or deadlock rolled it back whole), or answer 503 with Retry-After
// (the database is down, unreachable, overloaded or timed out). Anything else is a bug and stays a 500.
import { Prisma } from "../generated/prisma/client.js";

export type DatabaseFailure =
  /** Serialization failure or deadlock (SQLSTATE 40001, 40P01): the transaction was rolled back; running it again is safe. */
  | "conflict"
  /** Reachable but cannot serve in time: a full pool, a transaction that could not start or ran out of time, a lock or statement timeout, too many connections, out of resources. */
  | "busy"
  /** Down, unreachable, shutting down or starting up, read-only after a failover, or the connection was lost. */
  | "unavailable";

// SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const CONFLICT_STATES = new Set(["40001", "40P01"]);
const BUSY_STATES = new Set(["55P03", "57014", "40003", "25P03"]); // lock_not_available, query_canceled (statement_timeout), statement_completion_unknown, idle_in_transaction_session_timeout
const BUSY_CLASSES = new Set(["53"]); // insufficient resources: 53000, 53100 disk full, 53200 out of memory, 53300 too many connections, 53400
const UNAVAILABLE_STATES = new Set(["25006"]); // read_only_sql_transaction: writing to a standby (a failover)
const UNAVAILABLE_CLASSES = new Set(["08", "57", "58"]); // connection exception; operator intervention (57P01-05: shutdown, crash, cannot connect now); system error (I/O)

// Prisma's own codes. P1001 can't reach server, P1002 timed out, P1003 database missing, P1000/P1010 access
// refused (the database is not usable as configured), P1008 operation timed out, P1011 TLS, P1017 server
// closed the connection; P2024 timed out fetching a connection from the pool, P2028 transaction API error
// (could not start in time, expired, or already closed by its timeout), P2034 write conflict or deadlock,
// P2037 too many connections.
const PRISMA_CONFLICT = new Set(["P2034"]);
const PRISMA_BUSY = new Set(["P2024", "P2028", "P2037", "P1008", "P1002"]);
const PRISMA_UNAVAILABLE = new Set(["P1000", "P1001", "P1003", "P1010", "P1011", "P1017"]);

// What the drivers (pg, its pool, PGlite) throw without a SQLSTATE.
const BUSY_MESSAGES = /timeout exceeded when trying to connect|Query read timeout|Unable to start a transaction|expired transaction|Transaction already closed/i;
const UNAVAILABLE_MESSAGES =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|Connection terminated|connection timeout|Can't reach database|DatabaseNotReachable|ConnectionClosed|SocketTimeout|the database system is (starting up|shutting down|not yet accepting connections|in recovery mode)|terminating connection due to administrator command|is not queryable|Cannot use a pool after calling end|PGlite is closed/i;
const SOCKET_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH)$/;

interface Facts {
  prismaCodes: string[];
  sqlStates: string[];
  messages: string[];
}

/** Everything an error (and the errors it wraps) says about its origin: Prisma codes, SQLSTATEs, messages. */
function factsOf(err: unknown): Facts {
  const facts: Facts = { prismaCodes: [], sqlStates: [], messages: [] };
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number) => {
    if (!e || typeof e !== "object" || seen.has(e) || depth > 6) return;
    seen.add(e);
    const { message, code, originalCode, cause, meta } = e as { message?: unknown; code?: unknown; originalCode?: unknown; cause?: unknown; meta?: unknown };
    if (typeof message === "string") {
      facts.messages.push(message);
      const state = /Code: `([0-9A-Z]{5})`/.exec(message)?.[1]; // Prisma's "Raw query failed. Code: `40001`."
      if (state) facts.sqlStates.push(state);
    }
    for (const c of [code, originalCode]) {
      if (typeof c !== "string") continue;
      if (/^P\d{4}$/.test(c)) facts.prismaCodes.push(c);
      else if (/^[0-9A-Z]{5}$/.test(c)) facts.sqlStates.push(c);
      else facts.messages.push(c); // a socket error's code (ECONNRESET, …)
    }
    visit(cause, depth + 1);
    if (meta && typeof meta === "object") visit((meta as { driverAdapterError?: unknown }).driverAdapterError, depth + 1);
  };
  visit(err, 0);
  return facts;
}

/** What kind of database failure `err` is, or undefined when it is not one (a bug, a domain error). */
export function databaseFailureOf(err: unknown): DatabaseFailure | undefined {
  if (err instanceof Prisma.PrismaClientInitializationError) return "unavailable";
  const { prismaCodes, sqlStates, messages } = factsOf(err);
  // The most specific evidence decides: a SQLSTATE (any other one is an error in the SQL or the data: a bug,
  // whatever its message quotes), then Prisma's code, then the driver's words.
  for (const s of sqlStates) {
    if (CONFLICT_STATES.has(s)) return "conflict";
    if (BUSY_STATES.has(s) || BUSY_CLASSES.has(s.slice(0, 2))) return "busy";
    if (UNAVAILABLE_STATES.has(s) || UNAVAILABLE_CLASSES.has(s.slice(0, 2))) return "unavailable";
  }
  if (sqlStates.length) return undefined;
  for (const c of prismaCodes) {
    if (PRISMA_CONFLICT.has(c)) return "conflict";
    if (PRISMA_BUSY.has(c)) return "busy";
    if (PRISMA_UNAVAILABLE.has(c)) return "unavailable";
  }
  if (messages.some((m) => BUSY_MESSAGES.test(m))) return "busy";
  if (messages.some((m) => UNAVAILABLE_MESSAGES.test(m) || SOCKET_CODES.test(m))) return "unavailable";
  return undefined;
}

export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002";
}
