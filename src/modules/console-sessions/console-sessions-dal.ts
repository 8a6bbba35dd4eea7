import type { DbClient } from "../../db/types.js";

export type SignInEventKind = "sign_in" | "sign_in_failed" | "sign_out";

export interface SignInEventRow {
  id: string;
  kind: SignInEventKind;
  email: string;
  analystId: string | null;
  orgId: string | null;
  cause: string | null;
  ip: string;
  userAgent: string | null;
  createdAt: Date;
}

export const consoleSessionsDal = {
  create(db: DbClient, data: { id: string; analystId: string; orgId: string; tokenHash: Uint8Array<ArrayBuffer>; expiresAt: Date; lastSeenAt: Date; ip: string; createdAt: Date }) {
    return db.consoleSession.create({ data, select: { id: true } });
  },
  /** The session and its analyst, by the hash of the cookie's value. */
  findByTokenHash(db: DbClient, tokenHash: Uint8Array<ArrayBuffer>) {
    return db.consoleSession.findUnique({
      where: { tokenHash },
      select: {
        id: true,
        tokenHash: true,
        orgId: true,
        expiresAt: true,
        lastSeenAt: true,
        analyst: { select: { id: true, orgId: true, email: true, name: true, disabledAt: true } },
      },
    });
  },
  touch(db: DbClient, id: string, at: Date) {
    return db.consoleSession.updateMany({ where: { id }, data: { lastSeenAt: at } });
  },
  delete(db: DbClient, id: string) {
    return db.consoleSession.deleteMany({ where: { id } });
  },
  deleteAllOf(db: DbClient, analystId: string) {
    return db.consoleSession.deleteMany({ where: { analystId } });
  },
  /** Sessions past their absolute end or idle too long (any analyst). */
  purgeExpired(db: DbClient, at: Date, idleSince: Date) {
    return db.consoleSession.deleteMany({ where: { OR: [{ expiresAt: { lte: at } }, { lastSeenAt: { lte: idleSince } }] } });
  },

  recordEvent(db: DbClient, data: SignInEventRow) {
    return db.consoleSignInEvent.create({ data, select: { id: true } });
  },
  /** Times of the failed sign-ins for this email or client since `since`, newest first, at most `limit`. */
  async recentFailures(db: DbClient, where: { email: string } | { ip: string }, since: Date, limit: number): Promise<Date[]> {
    const rows = await db.consoleSignInEvent.findMany({
      where: { ...where, kind: "sign_in_failed", createdAt: { gt: since } },
      orderBy: { createdAt: "desc" },
      take: limit,
      select: { createdAt: true },
    });
    return rows.map((r) => r.createdAt);
  },
  async lastSignIn(db: DbClient, email: string): Promise<Date | undefined> {
    const row = await db.consoleSignInEvent.findFirst({ where: { email, kind: "sign_in" }, orderBy: { createdAt: "desc" }, select: { createdAt: true } });
    return row?.createdAt;
  },
};
