// npm run bench:face — the face engine alone: cold start, templates per second per core, memory.
//
// For each worker count (BENCH_FACE_WORKERS, default "1,2"): starts the engine (pipeline.ts, in piscina
// worker threads), waits until every worker has loaded the models and analysed a first image (cold start),
// then keeps every worker busy with 400×500 portraits for BENCH_FACE_SECONDS (default 10) and reports
// templates per second, per second per worker thread (one thread keeps one core busy), latency, the process
// CPU time per template (all threads: robust on a busy machine, where wall times are not), the process RSS
// (main thread + workers) after warm-up and after the run, and the main thread's event-loop delay meanwhile
// (inference must never run on it). Portraits are cropped at run time from the demo photos of
// @vladmandic/face-api. RSS depends on the allocator: `npm run bench:face` runs with MALLOC_ARENA_MAX=2, as
// `npm start` and the image do (README "Face templates").
import { monitorEventLoopDelay } from "node:perf_hooks";
import { FACE_TEMPLATE_MODEL_ID } from "../src/face/pipeline.js";
import { startFaceTemplateEngine } from "../src/face/template-engine.js";
import { portrait } from "../test/face/photos.js";

const SECONDS = Number(process.env.BENCH_FACE_SECONDS ?? 10);
const WORKER_COUNTS = (process.env.BENCH_FACE_WORKERS ?? "1,2").split(",").map(Number);
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function run(workers: number, photos: Buffer[]) {
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const engine = startFaceTemplateEngine({ workers, timeoutMs: 60_000 });
  try {
    await engine.ready;
    const coldStartMs = Math.round(performance.now() - t0);
    // warm-up: a few real portraits per worker
    await Promise.all(Array.from({ length: workers * 3 }, (_, i) => engine.template(photos[i % photos.length]!)));
    const rssAfterWarmUp = process.memoryUsage().rss;

    const eld = monitorEventLoopDelay({ resolution: 5 }); // values include the 5 ms sampling interval: conservative
    eld.enable();
    const times: number[] = [];
    let failures = 0;
    const cpu0 = process.cpuUsage();
    let n = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const lane = async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        const r = await engine.template(photos[n++ % photos.length]!);
        times.push(performance.now() - t);
        if (!r.ok) failures++;
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: workers }, lane));
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    eld.disable();
    times.sort((a, b) => a - b);
    const perSecond = times.length / seconds;
    return {
      workers,
      coldStartMs,
      templates: times.length,
      failures,
      templatesPerSecond: +perSecond.toFixed(2),
      templatesPerSecondPerCore: +(perSecond / workers).toFixed(2),
      latencyMs: { p50: Math.round(pct(times, 50)), p99: Math.round(pct(times, 99)) },
      cpuMsPerTemplate: +((cpu.user + cpu.system) / 1000 / times.length).toFixed(1),
      rssMb: { beforeStart: mb(rssBefore), afterWarmUp: mb(rssAfterWarmUp), afterRun: mb(process.memoryUsage().rss) },
      mainEventLoopDelayMs: { p50: +(eld.percentile(50) / 1e6).toFixed(1), p99: +(eld.percentile(99) / 1e6).toFixed(1), max: +(eld.max / 1e6).toFixed(1) },
    };
  } finally {
    await engine.close();
  }
}

async function main() {
  const photos = await Promise.all((["alice", "bea", "cara"] as const).map((who) => portrait(who)));
  const results = [];
  for (const workers of WORKER_COUNTS) results.push(await run(workers, photos));
  console.log(
    JSON.stringify({ model: FACE_TEMPLATE_MODEL_ID, photo: "400x500 JPEG portrait", seconds: SECONDS, mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? "glibc default", runs: results }, null, 2),
  );
  if (results.some((r) => r.failures > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
