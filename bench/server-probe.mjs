// Loaded into the benchmarked service process (node --import): measures its event-loop delay, CPU and memory
// and answers the bench over the IPC channel. Bench-only; the service itself knows nothing of it. Plain
// JavaScript, so it also loads into the built service (node dist/src/server.js) without tsx.
// It answers a ProbeReport (bench/probe-report.ts): rssMb, maxRssMb (peak, getrusage), heapMb {total, used,
// external}, cpuMs (the process's CPU time, all threads, face workers included, since the last reset) and
// eventLoopDelayMs {p50, p99, max}. "probe:gc" first runs a full collection when the process has --expose-gc
// (what is live, not garbage).
import process from "node:process";
import { monitorEventLoopDelay } from "node:perf_hooks";

if (process.send) {
  const eld = monitorEventLoopDelay({ resolution: 5 }); // values include the 5 ms sampling interval: conservative
  eld.enable();
  const ms = (ns) => +(ns / 1e6).toFixed(1);
  const mb = (bytes) => Math.round(bytes / 1024 / 1024);
  let cpu = process.cpuUsage();
  process.on("message", (m) => {
    if (m !== "probe:report" && m !== "probe:reset" && m !== "probe:gc") return;
    if (m === "probe:gc") globalThis.gc?.();
    const used = process.cpuUsage(cpu);
    const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
    const report = {
      rssMb: mb(rss),
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      heapMb: { total: mb(heapTotal), used: mb(heapUsed), external: mb(external) },
      cpuMs: Math.round((used.user + used.system) / 1000),
      eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
    };
    if (m === "probe:reset") {
      eld.reset();
      cpu = process.cpuUsage();
    }
    process.send(report);
  });
  process.channel?.unref(); // never keep the service alive on the bench's account
}
