// Interactive transactions that survive the database's own conflict resolution. A serialization failure or a
// deadlock (SQLSTATE 40001, 40P01) means PostgreSQL rolled the transaction back whole to let another one
// through: nothing of it was written, so running it again is safe and usually succeeds at once. Callbacks must
// therefore be safe to run more than once (they may compute values and ids before; everything they write goes
// through `tx`). Other failures, and a conflict that persists, reach the caller (a 503, see db/errors.ts).
import { setTimeout as sleep } from "node:timers/promises";
import type { Prisma } from "../generated/prisma/client.js";
import { databaseFailureOf } from "./errors.js";
import type { PrismaClient } from "./types.js";

/** Attempts in all, the first included. */
export const TRANSACTION_ATTEMPTS = 3;

/** A short, jittered pause, so two transactions that collided do not collide again in lockstep. */
const backoffMs = (attempt: number) => 10 * 2 ** attempt * (0.5 + Math.random());

export async function inTransaction<T>(
  prisma: PrismaClient,
  fn: (tx: Prisma.TransactionClient) => Promise<T>,
  options?: { isolationLevel?: Prisma.TransactionIsolationLevel },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await prisma.$transaction(fn, options);
    } catch (err) {
      if (attempt >= TRANSACTION_ATTEMPTS || databaseFailureOf(err) !== "conflict") throw err;
      await sleep(backoffMs(attempt));
    }
  }
}
