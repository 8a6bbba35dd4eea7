// Verification attempts for compliance: filtered, newest first, paged by page number or by keyset cursor.
//
// `total` at scale: an exact COUNT over a million matching rows reads a million index entries on every
// request (~80 ms at 1 M on PostgreSQL), which would make the first page slower the bigger the bank. So the
// planner's estimate (statistics only, no rows read) is asked first. When it says the match is plausibly
// small (up to ESTIMATE_MARGIN x exactCountCap), the rows are counted, stopping at exactCountCap + 1: up to
// the cap, `total` is exact. Otherwise `total` is the estimate (never below the rows known to exist) and
// `meta.totalExact` is false.
import type { PrismaClient } from "../../db/types.js";
import { attemptsDal, type AttemptRow, type AttemptsFilter } from "./attempts-dal.js";
import {
  ATTEMPTS_PAGE,
  cursorScope,
  encodeCursor,
  type AttemptItem,
  type AttemptsExportQueryInput,
  type AttemptsList,
  type AttemptsQueryInput,
} from "./attempts-schemas.js";

export const EXACT_COUNT_CAP = 10_000;
/** Rows per keyset page of the export (one query each; memory holds about one page). */
export const EXPORT_PAGE_ROWS = 1_000;
/** How far above the cap an estimate must be before it is trusted without counting (planner estimates can be off by a few x). */
const ESTIMATE_MARGIN = 5;

function item(r: AttemptRow): AttemptItem {
  return {
    id: r.id,
    customerId: r.customerId,
    method: r.method,
    status: r.status,
    score: r.score,
    reason: r.reason,
    createdAt: r.createdAt.toISOString(),
    apiKey: r.apiKeyId ? { id: r.apiKeyId, prefix: r.apiKeyPrefix ?? "" } : null,
  };
}

export function createAttemptsService({
  prisma,
  exactCountCap = EXACT_COUNT_CAP,
  exportPageRows = EXPORT_PAGE_ROWS,
}: {
  prisma: PrismaClient;
  exactCountCap?: number;
  exportPageRows?: number;
}) {
  async function totalOf(filter: AttemptsFilter, atLeast: number): Promise<{ total: number; exact: boolean }> {
    const estimated = await attemptsDal.estimate(prisma, filter);
    if (estimated <= exactCountCap * ESTIMATE_MARGIN) {
      const counted = await attemptsDal.countUpTo(prisma, filter, exactCountCap);
      if (counted <= exactCountCap) return { total: counted, exact: true };
      return { total: Math.max(estimated, counted, atLeast), exact: false };
    }
    return { total: Math.max(estimated, atLeast), exact: false };
  }

  return {
    async list(orgId: string, q: AttemptsQueryInput): Promise<AttemptsList> {
      const limit = q.limit ?? ATTEMPTS_PAGE.defaultLimit;
      const page = q.cursor?.page ?? q.page ?? 1;
      const filter: AttemptsFilter = {
        orgId,
        method: q.method,
        status: q.status,
        customerId: q.customerId,
        from: q.from?.text,
        to: q.to?.text,
      };
      // One row past the page tells whether there is a next page without counting.
      const rows = await attemptsDal.page(prisma, filter, {
        limit: limit + 1,
        offset: q.cursor ? 0 : (page - 1) * limit,
        before: q.cursor,
      });
      const hasMore = rows.length > limit;
      const data = rows.slice(0, limit).map(item);
      const { total, exact } = await totalOf(filter, (page - 1) * limit + data.length + (hasMore ? 1 : 0));
      const last = rows[limit - 1];
      return {
        data,
        total,
        page,
        limit,
        meta: {
          pages: Math.ceil(total / limit),
          totalExact: exact,
          nextCursor: hasMore && last ? encodeCursor({ createdAt: last.createdAt, id: last.id, page: page + 1, scope: cursorScope(q) }) : null,
        },
      };
    },

    /**
     * Every attempt matching the filters, newest first, in pages walked by keyset on (created_at, id): each
     * page costs what the first does, however deep, and rows written meanwhile (all newer than the first
     * page) neither shift nor repeat a row. Stop iterating and no further query runs.
     */
    async *exportPages(orgId: string, q: AttemptsExportQueryInput): AsyncGenerator<AttemptRow[]> {
      const filter: AttemptsFilter = { orgId, method: q.method, status: q.status, customerId: q.customerId, from: q.from?.text, to: q.to?.text };
      let before: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const rows = await attemptsDal.page(prisma, filter, { limit: exportPageRows, offset: 0, before });
        const count = rows.length;
        if (count === 0) return;
        const last = rows[count - 1]!;
        before = { createdAt: last.createdAt, id: last.id };
        yield rows.splice(0, count); // handed over whole: this frame keeps no reference while the page is written
        if (count < exportPageRows) return;
      }
    },
  };
}
export type AttemptsService = ReturnType<typeof createAttemptsService>;
