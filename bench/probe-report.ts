/** What bench/server-probe.mjs answers from inside the benchmarked service. */
export interface ProbeReport {
  rssMb: number;
  /** The process's peak RSS so far (getrusage maxrss). */
  maxRssMb: number;
  /** V8's heap (total reserved, used) and memory held outside it (Buffers), for telling what grows. */
  heapMb: { total: number; used: number; external: number };
  /** CPU time of the whole process (all threads) since the last reset. */
  cpuMs: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}
