// Loaded into the benchmarked service process (node --import): measures its event-loop delay and RSS and
// answers the bench over the IPC channel. Bench-only; the service itself knows nothing of it.
import { monitorEventLoopDelay } from "node:perf_hooks";

export interface ProbeReport {
  rssMb: number;
  /** The process's peak RSS so far (getrusage maxrss). */
  maxRssMb: number;
  /** V8's heap (total reserved, used) and memory held outside it (Buffers), for telling what grows. */
  heapMb: { total: number; used: number; external: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

if (process.send) {
  const eld = monitorEventLoopDelay({ resolution: 5 }); // values include the 5 ms sampling interval: conservative
  eld.enable();
  const ms = (ns: number) => +(ns / 1e6).toFixed(1);
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  process.on("message", (m: unknown) => {
    if (m !== "probe:report" && m !== "probe:reset" && m !== "probe:gc") return;
    // (probe:gc: a full collection first, when the process runs with --expose-gc: what is live, not garbage)
    if (m === "probe:gc") (globalThis as { gc?: () => void }).gc?.();
    const report: ProbeReport = {
      rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      heapMb: (({ heapTotal, heapUsed, external }) => ({ total: mb(heapTotal), used: mb(heapUsed), external: mb(external) }))(process.memoryUsage()),
      eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
    };
    if (m === "probe:reset") eld.reset();
    process.send!(report);
  });
  process.channel?.unref(); // never keep the service alive on the bench's account
}
