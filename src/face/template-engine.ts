// The default face engine (pipeline.ts): the fr_detect detector, 68 fr_landmark points, five-point alignment
// and the fr_feature recognition model, all on onnxruntime, in piscina worker threads. Models ship inside npm packages
// and load once per thread at start-up; nothing is downloaded. The main thread only queues photos, so
// inference never blocks the event loop.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Piscina } from "piscina";
import sharp from "sharp";
import { encodeTemplate, type DetectResult, type FallbackCause, type FaceTemplater, type TemplateOptions, type TemplateResult } from "./engine.js";
import { FACE_TEMPLATE_MODEL_ID, PIPELINE_MODELS, type PipelineModelName } from "./pipeline.js";
import { PriorityQueue } from "./priority-queue.js";

/** What the main thread sends a worker, and what it answers (see template-worker.ts). */
export interface FaceWorkerTask {
  photo: Uint8Array;
  /** `detect`: faces only. `template`: also the dominant face's embedding (or why there is none). */
  kind: "detect" | "template";
  /** Decode under the photo rules (TemplateOptions.checkDecode); a failure is answered as `undecoded`. */
  checkDecode?: boolean;
}
export interface FaceWorkerResult {
  /** Only with checkDecode: the strict decode failed, nothing was analysed (nothing else is set). */
  undecoded?: true;
  width: number;
  height: number;
  faces: { box: [number, number, number, number]; score: number }[];
  template?: { ok: true; index: number; embedding: Float32Array } | { ok: false; cause: Extract<FallbackCause, "no_face" | "multiple_faces"> };
}
/** Given to every worker thread when it starts. */
export interface FaceWorkerData {
  /** The model files' hashes the model id was made from: a thread refuses to run other files. */
  modelSha256?: Record<PipelineModelName, string>;
  /** Fault-injection tests only: a worker exits when a photo contains these bytes. */
  crashMarker?: string;
}

export interface FaceTemplateEngineOptions {
  /** Worker threads, each with its own copy of the models (README "Face templates": memory per worker). */
  workers: number;
  /** Budget per photo, queueing included. */
  timeoutMs: number;
  /** Told about worker failures (the engine itself carries on). */
  onWorkerError?: (err: Error) => void;
  /** Fault-injection tests only: a worker exits when a photo contains these bytes. */
  crashMarker?: string;
}

export interface FaceTemplateEngine extends FaceTemplater {
  readonly model: string;
  /** Resolves once every worker has loaded the models and analysed a first image (rejects if they cannot). */
  readonly ready: Promise<{ loadMs: number }>;
}

/** `ready` rejects with this when the engine was closed before it finished loading (not a load failure). */
export class FaceEngineClosedError extends Error {
  constructor() {
    super("face engine closed before its models finished loading");
  }
}

const require = createRequire(import.meta.url);

const WORKER_YOUNG_GENERATION_MB = 8;

/** How long close() waits for the photos already in the workers before it ends the threads anyway. */
const CLOSE_TIMEOUT_MS = 10_000;

type Outcome = { kind: "done"; result: FaceWorkerResult } | { kind: "timeout" } | { kind: "error"; err: unknown };

/** Workers run the .ts source under tsx in development and tests, the built .js otherwise. */
function workerEntry(): { filename: string; execArgv?: string[] } {
  const self = fileURLToPath(import.meta.url);
  const ext = path.extname(self);
  const filename = path.join(path.dirname(self), `template-worker${ext}`);
  if (ext !== ".ts") return { filename };
  // tsx's hooks do not follow the process into worker threads by themselves: register them in the worker,
  // first. A TypeScript preload of the process (e.g. a bench probe) cannot load in a worker: leave those out.
  const execArgv: string[] = ["--import", pathToFileURL(require.resolve("tsx")).href];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i]!;
    const value = process.execArgv[i + 1];
    if ((arg === "--import" || arg === "--require") && value !== undefined) {
      i++;
      if (/\.[cm]?ts$/.test(value) || value.includes("tsx")) continue;
      execArgv.push(arg, value);
    } else execArgv.push(arg);
  }
  return { filename, execArgv };
}

export function startFaceTemplateEngine(opts: FaceTemplateEngineOptions): FaceTemplateEngine {
  const capacity = Math.max(1, opts.workers);
  const started = performance.now();
  const pool = new Piscina<FaceWorkerTask, FaceWorkerResult>({
    ...workerEntry(),
    minThreads: capacity,
    maxThreads: capacity,
    idleTimeout: Number.POSITIVE_INFINITY, // a thread holds loaded models: never let it go idle-exit
    // One photo per worker: a task with an abort signal (the hung-worker cut-off below) runs alone on its
    // worker anyway, and a second photo handed over early would wait in piscina's queue, which knows no
    // priorities and cannot drop a photo at its budget.
    concurrentTasksPerWorker: 1,
    // Each thread's V8 young generation defaults to tens of MB; the worker's garbage is a photo's pixels and
    // a few small arrays per task. 8 MB cost no measurable CPU and saved ~45 MB per worker (two workers, 60
    // templates each: 483 -> 389 MB RSS).
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    workerData: { modelSha256: { detector: PIPELINE_MODELS.detector.sha256, landmarks: PIPELINE_MODELS.landmarks.sha256, recognition: PIPELINE_MODELS.recognition.sha256 }, crashMarker: opts.crashMarker } satisfies FaceWorkerData,
  });
  // Without a listener a worker error outside a task would be thrown on the main thread and end the service.
  pool.on("error", (err: Error) => opts.onWorkerError?.(err));

  // A worker terminated while it is inside onnxruntime's run() takes the whole process down (the binding
  // throws a C++ exception when it cannot hand its result to a thread being torn down). So close() lets the
  // photos already in the workers finish, and the hung-worker cut-off is far beyond any template's time.
  const hungAfterMs = Math.max(30_000, 10 * opts.timeoutMs);
  let closed = false;
  let broken = false;
  let running = 0;
  const waiting = new PriorityQueue<{ start: () => void; fail: (err: Error) => void }>();

  let onIdle: (() => void) | undefined;
  const runNext = () => {
    while (running < capacity && waiting.size > 0) waiting.shift()!.start();
    if (running === 0) onIdle?.();
  };
  /** Resolves when no photo is in a worker any more. */
  const idle = () =>
    new Promise<void>((resolve) => {
      if (running === 0) return resolve();
      onIdle = resolve;
    });

  /**
   * One photo through a worker, within the budget. Photos wait here, not in piscina, so a photo whose
   * budget runs out while waiting is simply dropped; one already running is left to finish (aborting it
   * would kill the thread and cost a model reload) and its result discarded.
   */
  const analyse = (photo: Buffer, kind: FaceWorkerTask["kind"], { priority = "enrolment", checkDecode = false }: TemplateOptions): Promise<Outcome> =>
    new Promise<Outcome>((resolve) => {
      if (closed || broken) return resolve({ kind: "error", err: new Error(closed ? "face engine closed" : "face engine failed to load") });
      let settled = false;
      const settle = (o: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      const start = () => {
        running++;
        pool
          // A worker stuck far beyond any budget (a hung decode) is terminated; piscina starts a fresh one.
          .run({ photo: new Uint8Array(photo.buffer, photo.byteOffset, photo.byteLength), kind, checkDecode }, { signal: AbortSignal.timeout(hungAfterMs) })
          .then(
            (result) => settle({ kind: "done", result }),
            (err: unknown) => {
              if (!closed && err instanceof Error) opts.onWorkerError?.(err);
              settle({ kind: "error", err });
            },
          )
          .finally(() => {
            running--;
            runNext();
          });
      };
      const entry = { start, fail: (err: Error) => settle({ kind: "error", err }) };
      const timer = setTimeout(() => {
        waiting.remove(entry);
        settle({ kind: "timeout" });
      }, opts.timeoutMs);
      waiting.push(entry, priority);
      runNext();
    });

  // Load check and warm-up: one small blank image per worker, so the first real photo does not pay for
  // kernel set-up.
  const ready = sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toBuffer()
    .then((blank) => Promise.all(Array.from({ length: capacity }, () => pool.run({ photo: new Uint8Array(blank), kind: "template" }))))
    .then(
      () => ({ loadMs: Math.round(performance.now() - started) }),
      (err: unknown) => {
        throw closed ? new FaceEngineClosedError() : err;
      },
    );
  // Models that cannot load will not load on a retry either: stop the threads and answer engine_error at once.
  ready.catch(() => {
    if (closed) return;
    broken = true;
    for (const entry of waiting.drain()) entry.fail(new Error("face engine failed to load"));
    void pool.destroy().catch(() => {});
  });

  return {
    model: FACE_TEMPLATE_MODEL_ID,
    capacity,
    ready,
    async detect(photo, opts = {}): Promise<DetectResult> {
      const o = await analyse(photo, "detect", opts);
      if (o.kind !== "done") return { ok: false, cause: o.kind === "timeout" ? "timeout" : "engine_error" };
      if (o.result.undecoded) return { ok: false, cause: "engine_error" };
      return { ok: true, faces: o.result.faces };
    },
    async template(photo, opts = {}): Promise<TemplateResult> {
      const o = await analyse(photo, "template", opts);
      if (o.kind !== "done") return { ok: false, cause: o.kind === "timeout" ? "timeout" : "engine_error" };
      if (o.result.undecoded) return { ok: false, cause: "engine_error" };
      const t = o.result.template;
      if (!t) return { ok: false, cause: "engine_error" };
      if (!t.ok) return { ok: false, cause: t.cause };
      return { ok: true, template: encodeTemplate(t.embedding), model: FACE_TEMPLATE_MODEL_ID };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const entry of waiting.drain()) entry.fail(new Error("face engine closed"));
      // Waits for the photos in the workers (whose answers may already have gone out as timeout stubs), then
      // ends the threads: terminating one mid-inference would abort the process (see hungAfterMs). (Not
      // piscina's close(): it counts a worker done once per worker and ends the others' tasks early.)
      // Likewise a worker still loading (onnxruntime loads its model in native code).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([ready.catch(() => {}), idle()]),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (!broken) await pool.destroy();
    },
  };
}
