// A named lease in the database (job_leases), so a background job runs in one process at a time across every
// replica, on PostgreSQL and on the embedded PGlite alike. Times are the database's own (no clock skew between
// hosts); a holder that dies simply lets its lease expire.
import type { DbClient } from "../../db/types.js";

export const leaseDal = {
  /** Takes the lease when it is free, expired, or already ours; true when we hold it for `ttlMs` from now. */
  async acquire(db: DbClient, name: string, holder: string, ttlMs: number): Promise<boolean> {
    const n = await db.$executeRaw`
      INSERT INTO job_leases (name, holder, expires_at) VALUES (${name}, ${holder}, now() + ${ttlMs}::int * interval '1 millisecond')
      ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
      WHERE job_leases.expires_at < now() OR job_leases.holder = EXCLUDED.holder`;
    return n === 1;
  },
  /** Extends our lease; false when it is no longer ours (it expired and another process took it). */
  async renew(db: DbClient, name: string, holder: string, ttlMs: number): Promise<boolean> {
    const n = await db.$executeRaw`
      UPDATE job_leases SET expires_at = now() + ${ttlMs}::int * interval '1 millisecond' WHERE name = ${name} AND holder = ${holder}`;
    return n === 1;
  },
  async release(db: DbClient, name: string, holder: string): Promise<void> {
    await db.$executeRaw`UPDATE job_leases SET expires_at = now() - interval '1 second' WHERE name = ${name} AND holder = ${holder}`;
  },
  holderOf(db: DbClient, name: string) {
    return db.jobLease.findUnique({ where: { name } });
  },
};
