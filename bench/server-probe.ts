// Loaded into the benchmarked service process (node --import): measures its event-loop delay and RSS and
// answers the bench over the IPC channel. Bench-only; the service itself knows nothing of it.
import { monitorEventLoopDelay } from "node:perf_hooks";

export interface ProbeReport {
  rssMb: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

if (process.send) {
  const eld = monitorEventLoopDelay({ resolution: 5 }); // values include the 5 ms sampling interval: conservative
  eld.enable();
  const ms = (ns: number) => +(ns / 1e6).toFixed(1);
  process.on("message", (m: unknown) => {
    if (m !== "probe:report" && m !== "probe:reset") return;
    const report: ProbeReport = {
      rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
      eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
    };
    if (m === "probe:reset") eld.reset();
    process.send!(report);
  });
  process.channel?.unref(); // never keep the service alive on the bench's account
}
