// The service's background retention sweep: the first run shortly after start (a service restarted more
// often than the interval must still sweep), then one every interval. Another replica's sweep holding the
// lease is not an error: this run is skipped. Stopping waits for the batch in flight, then returns.
import type { Logger } from "pino";
import { SweepBusyError, type RetentionService } from "./retention-service.js";

const FIRST_RUN_MAX_DELAY_MS = 30_000;

export interface RetentionSweeper {
  stop(): Promise<void>;
}

export function startRetentionSweeper({ retention, intervalMs, log }: { retention: RetentionService; intervalMs: number; log: Logger }): RetentionSweeper {
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const runOnce = async () => {
    const t0 = Date.now();
    try {
      const result = await retention.sweep({ shouldStop: () => stopping });
      // (counts named apart from `raw`, which the log redacts as a key wherever it appears)
      const orgs = result.orgs.filter((o) => o.selfies + o.raw > 0).map((o) => ({ orgId: o.orgId, selfiesErased: o.selfies, rawErased: o.raw }));
      log.info(
        { selfiesErased: result.erased.selfies, rawErased: result.erased.raw, complete: result.complete, orgs, ms: Date.now() - t0 },
        "retention sweep",
      );
    } catch (err) {
      if (err instanceof SweepBusyError) log.info({ reason: err.message }, "retention sweep skipped");
      else log.error({ err }, "retention sweep failed (the next run retries)");
    }
  };
  const schedule = (ms: number) => {
    if (stopping) return;
    timer = setTimeout(() => {
      running = runOnce().finally(() => {
        running = undefined;
        schedule(intervalMs);
      });
    }, ms);
    timer.unref();
  };
  // Spread over replicas started together, within the first interval.
  schedule(Math.floor(Math.random() * Math.min(intervalMs, FIRST_RUN_MAX_DELAY_MS)));

  return {
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running;
    },
  };
}
