// Which database failures mean "the database is unavailable" (→ 503, retry later) rather than a bug.
import { Prisma } from "../generated/prisma/client.js";

// PostgreSQL SQLSTATEs: 57P01-03 admin/crash shutdown and cannot-connect-now (starting up, in recovery),
// 08xxx connection exceptions; Prisma reports them inside its own error's message ("Code: `57P03`").
// P1001 can't reach server, P1002 timed out, P1008 operation timed out, P1017 server closed the connection,
// P2024 timed out fetching a connection from the pool, P2028 transaction API error (could not start in time).
const UNAVAILABLE_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2028"]);
const UNAVAILABLE_MESSAGES =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection terminated|connection timeout|timeout exceeded when trying to connect|Can't reach database|DatabaseNotReachable|ConnectionClosed|SocketTimeout|the database system is (starting up|shutting down|not yet accepting connections|in recovery mode)|Code: `(57P0[1-3]|08\d{3})`|terminating connection due to administrator command|Transaction already closed|Unable to start a transaction|Query read timeout|is not queryable/i;

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof Prisma.PrismaClientInitializationError) return true;
  if (err instanceof Prisma.PrismaClientKnownRequestError && UNAVAILABLE_CODES.has(err.code)) return true;
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const { message, code, cause } = e as { message?: unknown; code?: unknown; cause?: unknown };
    if (typeof message === "string" && UNAVAILABLE_MESSAGES.test(message)) return true;
    if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|57P0[1-3]|08\d{3})$/.test(code)) return true;
    e = cause;
  }
  return false;
}

export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002";
}
