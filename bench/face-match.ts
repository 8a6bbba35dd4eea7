// npm run bench:face-match — how well the shipped template pipeline tells people apart, how fast it is on one
// core, and its memory; exits 1 when the documented default threshold does not hold.
//
// The evaluation set of test/face/eval-set.json is built at run time from images inside npm packages
// (test/face/eval-set.ts; nothing but coordinates is committed):
//   set A  22 women, a 400×500 portrait each, compared with 13 altered versions of the same photo
//          (robustness only: the same photo, so it says nothing about different photos of one person);
//   set B  17 different photos of one man, taken years apart: the real cross-photo genuine pairs;
//   set M  15 other montage tiles (labelled "other men"; r5c18 is in fact a woman, and by eye r3c06/r3c07/r3c13
//          and r5c13/r6c10 may show the same two men twice: their pairs score 60-66, counted as impostors as
//          labelled): impostors against B.
// Genuine pairs: A portrait vs each of its alterations (286), every pair of B (136). Impostor pairs, pooled:
// A portrait vs another woman's portrait or altered photo (pairs labelled "maybe the same person" left out),
// B × M and M × M. (Women against men are left out: easy pairs that would only flatter the FMR.)
// A photo that yields no template (no face, several faces) counts against FNMR in every genuine pair it is
// in (the match could not be made) and is left out of impostor pairs (it can match nobody).
//
// Printed: score distributions (the 0-100 score of face-match.md and cosine), ROC-AUC, EER, the thresholds
// at FMR 1 % and 0.1 % of the pooled impostors, FNMR on A and on B and FMR at the documented default
// threshold (DEFAULT_FACE_MATCH_THRESHOLD), failures to find a face, time per template (p50/p99, one worker;
// run under `taskset -c 1` for one-core figures), RSS. Exit 1 when, at the default threshold, FNMR on set B
// exceeds 5 % or FMR on the pooled impostors exceeds 1 %.
//
// Then, unless BENCH_LOAD=off, the endpoint under load (bench/match-load.ts: requests/s, p50/p99, event-loop
// delay p99, service RSS; and matches bursting while verdicts arrive), on PostgreSQL (BENCH_DATABASE_URL).
//
// Env: BENCH_ALTERNATIVES=faceres,human-mesh also scores, for comparison, computed in this process (about a
// minute each): Human's own FaceRes descriptor (the first templates), and Human's detector and mesh in front
// of the same alignment and recognition model (the pipeline before this one).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import sharp from "sharp";
import type { Tensor } from "@vladmandic/human";
import { compareTemplates, dominantFace, encodeTemplate, type DetectedFace } from "../src/face/engine.js";
import { DEFAULT_FACE_MATCH_THRESHOLD, matchScore } from "../src/face/match-policy.js";
import { createHuman, HUMAN_VERSION, serveOnlyHumanModels } from "../src/face/human.js";
import { alignFace, ALIGNED_SIZE, fivePointsFromMesh, toModelInput, type RgbImage } from "../src/face/align.js";
import { FACE_TEMPLATE_MODEL_ID, RECOGNITION_MODEL_FILE } from "../src/face/pipeline.js";
import { startFaceTemplateEngine } from "../src/face/template-engine.js";
import { ALTERATIONS, buildEvalSet, maybeSamePerson, type EvalSet } from "../test/face/eval-set.js";
import { runMatchLoad } from "./match-load.js";

const ALTERATION_NAMES = ALTERATIONS.map((a) => a.name);
const ALTERATION_COUNT = ALTERATIONS.length;
const FNMR_B_LIMIT = 0.05;
const FMR_LIMIT = 0.01;
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const pct = (sorted: readonly number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN);
const percent = (x: number, digits = 1) => `${(100 * x).toFixed(digits)} %`;
/** Bins and thresholds of the score scale (face-match.md), from a cosine: what matchScore computes. */
const toScore = (cosine: number) => Math.round(100 * Math.max(0, cosine));

type Box = [number, number, number, number];

/** Something that makes templates: the shipped engine, or an alternative for comparison. */
interface Templater {
  name: string;
  template(photo: Buffer): Promise<{ ok: true; template: Buffer } | { ok: false; cause: string }>;
  /** The box of the face a template of this photo is made of (the dominant face), if any. */
  dominantBox(photo: Buffer): Promise<Box | null>;
  close(): Promise<void>;
}

interface Templated {
  /** null: no template (cause in `failures`) */
  templates: Map<string, Buffer | null>;
  failures: { id: string; cause: string }[];
  timesMs: number[];
  /** Process CPU time (all threads) spent while templating, per template: robust to a busy machine, unlike wall time. */
  cpuMsPerTemplate: number;
}

interface SetPhoto {
  id: string;
  photo: Buffer;
  /** Set A: where the labelled woman's face is; a template of a face elsewhere is someone else's. */
  faceCentre?: [number, number];
}

function setPhotos(set: EvalSet): SetPhoto[] {
  return [
    ...set.setA.flatMap((w) => [
      { id: `A:${w.id}`, photo: w.portrait, faceCentre: w.faceCentre },
      ...w.altered.map((a, k) => ({ id: `A:${w.id}#${k}`, photo: a.photo, faceCentre: a.faceCentre })),
    ]),
    ...set.setB.map((p) => ({ id: `B:${p.id}`, photo: p.photo })),
    ...set.setM.map((p) => ({ id: `M:${p.id}`, photo: p.photo })),
  ];
}

/**
 * Every photo of the set through one templater, one at a time (so each time is one template's work). A set-A
 * template of a face other than the labelled woman's (a neighbour in an off-centre crop, say) would be a
 * mislabelled pair: it counts as a failure (`other_face`) instead.
 */
async function templateAll(t: Templater, set: EvalSet): Promise<Templated> {
  const out: Templated = { templates: new Map(), failures: [], timesMs: [], cpuMsPerTemplate: 0 };
  let cpuUs = 0;
  for (const { id, photo, faceCentre } of setPhotos(set)) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = await t.template(photo);
    const c = process.cpuUsage(c0);
    out.timesMs.push(performance.now() - t0);
    cpuUs += c.user + c.system;
    let cause = r.ok ? null : r.cause;
    if (r.ok && faceCentre) {
      const box = await t.dominantBox(photo);
      const [x, y] = faceCentre;
      if (!box || x < box[0] || x > box[0] + box[2] || y < box[1] || y > box[1] + box[3]) cause = "other_face";
    }
    out.templates.set(id, r.ok && !cause ? r.template : null);
    if (cause) out.failures.push({ id, cause });
  }
  out.timesMs.sort((a, b) => a - b);
  out.cpuMsPerTemplate = cpuUs / 1000 / out.timesMs.length;
  return out;
}

/**
 * A compared pair: its photos' ids, cosine and score (match-policy.ts's matchScore, the one the service
 * decides on); both null for a genuine pair one of whose photos has no template.
 */
interface Pair {
  a: string;
  b: string;
  cos: number | null;
  score: number | null;
}
interface Scored extends Pair {
  cos: number;
  score: number;
}

interface Pairs {
  genuineA: Pair[];
  genuineB: Pair[];
  impostorA: Scored[];
  impostorBM: Scored[];
  impostorMM: Scored[];
}

function pairs(set: EvalSet, { templates }: Templated): Pairs {
  const pair = (a: string, b: string): Pair => {
    const x = templates.get(a);
    const y = templates.get(b);
    return x && y ? { a, b, cos: compareTemplates(x, y), score: matchScore(x, y) } : { a, b, cos: null, score: null };
  };
  const p: Pairs = { genuineA: [], genuineB: [], impostorA: [], impostorBM: [], impostorMM: [] };
  const impostor = (list: Scored[], q: Pair) => q.cos !== null && list.push(q as Scored);
  for (const w of set.setA) w.altered.forEach((_, k) => p.genuineA.push(pair(`A:${w.id}`, `A:${w.id}#${k}`)));
  for (const w of set.setA) {
    for (const v of set.setA) {
      if (v.id === w.id || maybeSamePerson(w.id, v.id)) continue;
      if (w.id < v.id) impostor(p.impostorA, pair(`A:${w.id}`, `A:${v.id}`));
      v.altered.forEach((_, k) => impostor(p.impostorA, pair(`A:${w.id}`, `A:${v.id}#${k}`)));
    }
  }
  set.setB.forEach((b, i) => set.setB.slice(i + 1).forEach((c) => p.genuineB.push(pair(`B:${b.id}`, `B:${c.id}`))));
  for (const b of set.setB) for (const m of set.setM) impostor(p.impostorBM, pair(`B:${b.id}`, `M:${m.id}`));
  set.setM.forEach((m, i) => set.setM.slice(i + 1).forEach((n) => impostor(p.impostorMM, pair(`M:${m.id}`, `M:${n.id}`))));
  return p;
}

const cosines = (list: readonly Pair[]) => list.map((q) => q.cos).filter((c): c is number => c !== null);

/** Share of genuine pairs not matched at `threshold` (score scale); `strict`: a missing template counts as not matched. */
const fnmrAt = (genuine: readonly Pair[], threshold: number, strict = true) => {
  const list = strict ? genuine : genuine.filter((q) => q.cos !== null);
  return list.filter((q) => q.score === null || q.score < threshold).length / list.length;
};
const fmrAt = (impostors: readonly Scored[], threshold: number) => impostors.filter((q) => q.score >= threshold).length / impostors.length;

/** ROC-AUC over compared pairs: the chance a genuine pair scores above an impostor pair (ties half). */
function rocAuc(genuine: readonly Pair[], impostors: readonly Scored[]): number {
  const g = cosines(genuine);
  let wins = 0;
  for (const x of g) for (const i of impostors) wins += x > i.cos ? 1 : x === i.cos ? 0.5 : 0;
  return wins / (g.length * impostors.length);
}

/** Equal error rate on cosine over compared pairs: FMR and FNMR where they are closest, averaged. */
function eer(genuine: readonly Pair[], impostors: readonly Scored[]): { eer: number; cosine: number } {
  const g = cosines(genuine);
  const im = impostors.map((q) => q.cos);
  let best = { gap: Number.POSITIVE_INFINITY, eer: 1, cosine: Number.NaN };
  for (const t of [...new Set([...g, ...im])].sort((a, b) => a - b)) {
    const fmr = im.filter((i) => i >= t).length / im.length;
    const fnmr = g.filter((x) => x < t).length / g.length;
    if (Math.abs(fmr - fnmr) < best.gap) best = { gap: Math.abs(fmr - fnmr), eer: (fmr + fnmr) / 2, cosine: t };
  }
  return { eer: best.eer, cosine: best.cosine };
}

/** The lowest threshold at which at most `fmr` of the impostors match: on the score scale, and on cosine. */
function thresholdAtFmr(impostors: readonly Scored[], fmr: number): { score: number; cosineAbove: number; allowed: number } {
  const allowed = Math.floor(fmr * impostors.length);
  let score = 0;
  while (score <= 100 && impostors.filter((q) => q.score >= score).length > allowed) score++;
  const desc = impostors.map((q) => q.cos).sort((a, b) => b - a);
  return { score, cosineAbove: desc[allowed] ?? Number.NEGATIVE_INFINITY, allowed };
}

function distribution(values: readonly number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const f = (p: number) => pct(s, p).toFixed(3);
  return `n=${s.length}  min ${s[0]?.toFixed(3)}  p5 ${f(5)}  p25 ${f(25)}  median ${f(50)}  p75 ${f(75)}  p95 ${f(95)}  p99 ${f(99)}  max ${s.at(-1)?.toFixed(3)}`;
}

/** Counts per 10-point bin of the 0-100 score. */
function histogram(values: readonly number[]): string {
  const bins = new Array<number>(10).fill(0);
  for (const c of values) bins[Math.min(9, Math.floor(toScore(c) / 10))]!++;
  return bins.map((n, i) => `${String(i * 10).padStart(2)}-${i === 9 ? "100" : String(i * 10 + 9).padStart(2)}:${String(n).padStart(5)}`).join(" ");
}

interface QualityReport {
  fnmrB: number;
  fmrPooled: number;
}

function report(name: string, set: EvalSet, t: Templated): QualityReport {
  const p = pairs(set, t);
  const pooled = [...p.impostorA, ...p.impostorBM, ...p.impostorMM];
  const lines: string[] = [];
  const say = (s = "") => lines.push(s);
  const failed = (re: RegExp) => t.failures.filter((f) => re.test(f.id));
  const byCause = (list: { cause: string }[]) => {
    const n = new Map<string, number>();
    for (const f of list) n.set(f.cause, (n.get(f.cause) ?? 0) + 1);
    return [...n].map(([c, k]) => `${k} ${c}`).join(", ") || "none";
  };
  say(`=== ${name}`);
  say(`photos without a usable template: ${t.failures.length} of ${t.templates.size} (${byCause(t.failures)})`);
  say(`  A portraits ${failed(/^A:[^#]+$/).length}/${set.setA.length} (${byCause(failed(/^A:[^#]+$/))}): ${failed(/^A:[^#]+$/).map((f) => f.id.slice(2)).join(" ") || "-"}`);
  say(`  A altered   ${failed(/#/).length}/${set.setA.length * ALTERATION_COUNT} (${byCause(failed(/#/))}); by alteration: ${ALTERATION_NAMES.map((n, k) => `${k}:${failed(new RegExp(`#${k}$`)).length}`).join(" ")}`);
  say(`  B ${failed(/^B:/).length}/${set.setB.length}, M ${failed(/^M:/).length}/${set.setM.length}${failed(/^[BM]:/).length ? `: ${failed(/^[BM]:/).map((f) => `${f.id} (${f.cause})`).join(" ")}` : ""}`);
  say();
  say("cosine distributions (compared pairs)");
  say(`  genuine A (same photo, altered)  ${distribution(cosines(p.genuineA))}`);
  say(`  genuine B (different photos)     ${distribution(cosines(p.genuineB))}`);
  say(`  impostor A (women)               ${distribution(cosines(p.impostorA))}`);
  say(`  impostor B x M                   ${distribution(cosines(p.impostorBM))}`);
  say(`  impostor M x M                   ${distribution(cosines(p.impostorMM))}`);
  say(`  impostor pooled                  ${distribution(cosines(pooled))}`);
  say("score (0-100) histograms, pairs per bin");
  say(`  genuine A        ${histogram(cosines(p.genuineA))}`);
  say(`  genuine B        ${histogram(cosines(p.genuineB))}`);
  say(`  impostor pooled  ${histogram(cosines(pooled))}`);
  say(`  impostor B x M   ${histogram(cosines(p.impostorBM))}`);
  say();
  const eerB = eer(p.genuineB, pooled);
  const eerA = eer(p.genuineA, pooled);
  say(`ROC-AUC  B vs pooled impostors ${rocAuc(p.genuineB, pooled).toFixed(4)}   B vs B x M ${rocAuc(p.genuineB, p.impostorBM).toFixed(4)}   A vs pooled impostors ${rocAuc(p.genuineA, pooled).toFixed(4)}`);
  say(`EER      B vs pooled impostors ${percent(eerB.eer)} (at cosine ${eerB.cosine.toFixed(3)})   A vs pooled impostors ${percent(eerA.eer)} (at cosine ${eerA.cosine.toFixed(3)})`);
  for (const fmr of [0.01, 0.001]) {
    const th = thresholdAtFmr(pooled, fmr);
    say(
      `FMR ${percent(fmr, 1)} of ${pooled.length} pooled impostors (at most ${th.allowed} matching): score >= ${th.score} (cosine > ${th.cosineAbove.toFixed(3)}); ` +
        `there FNMR B ${percent(fnmrAt(p.genuineB, th.score))}, FNMR A ${percent(fnmrAt(p.genuineA, th.score, false))}`,
    );
  }
  say("threshold (score >=)   FNMR B    FNMR A    FMR pooled   FMR B x M");
  const table = [...new Set([30, 32, 34, 36, 38, 40, 42, 44, 46, DEFAULT_FACE_MATCH_THRESHOLD])].sort((a, b) => a - b);
  for (const th of table) {
    say(
      `  ${String(th).padStart(3)}${th === DEFAULT_FACE_MATCH_THRESHOLD ? " (default)" : "          "}        ` +
        `${percent(fnmrAt(p.genuineB, th)).padStart(7)}   ${percent(fnmrAt(p.genuineA, th, false)).padStart(7)}   ${percent(fmrAt(pooled, th), 2).padStart(8)}     ${percent(fmrAt(p.impostorBM, th), 2).padStart(7)}`,
    );
  }
  const T = DEFAULT_FACE_MATCH_THRESHOLD;
  const fnmrB = fnmrAt(p.genuineB, T);
  const fmrPooled = fmrAt(pooled, T);
  const matching = (list: readonly Scored[]) => list.filter((q) => q.score >= T).length;
  const missed = (g: readonly Pair[]) => g.filter((q) => q.score !== null && q.score < T).length;
  const missing = (g: readonly Pair[]) => g.filter((q) => q.cos === null).length;
  const show = (q: Scored) => `${q.score} ${q.a.slice(2)}~${q.b.slice(2)}`;
  say();
  say(`at the default threshold ${T} (score >= ${T} is verified):`);
  say(`  FNMR set B ${percent(fnmrB)} (${missed(p.genuineB)} below + ${missing(p.genuineB)} without a template, of ${p.genuineB.length} pairs; limit ${percent(FNMR_B_LIMIT, 0)})`);
  say(`  FNMR set A ${percent(fnmrAt(p.genuineA, T, false))} of ${p.genuineA.length - missing(p.genuineA)} compared pairs (${missed(p.genuineA)} below); ${percent(fnmrAt(p.genuineA, T))} counting the ${missing(p.genuineA)} pairs without a template`);
  say(`  FMR pooled ${percent(fmrPooled, 2)} (${matching(pooled)}/${pooled.length}; limit ${percent(FMR_LIMIT, 0)})   B x M ${matching(p.impostorBM)}/${p.impostorBM.length}   M x M ${matching(p.impostorMM)}/${p.impostorMM.length}   A ${matching(p.impostorA)}/${p.impostorA.length}`);
  say(`  highest impostors: ${[...pooled].sort((a, b) => b.cos - a.cos).slice(0, 6).map(show).join(", ")}`);
  say(`  lowest genuine B:  ${p.genuineB.filter((q): q is Scored => q.cos !== null).sort((a, b) => a.cos - b.cos).slice(0, 6).map(show).join(", ")}`);
  say();
  say(`time per template (one worker, photos one at a time): p50 ${pct(t.timesMs, 50).toFixed(1)} ms, p99 ${pct(t.timesMs, 99).toFixed(1)} ms, n=${t.timesMs.length}; CPU ${t.cpuMsPerTemplate.toFixed(1)} ms per template (all threads)`);
  console.log(lines.join("\n"));
  return { fnmrB, fmrPooled };
}

/** CPUs this process may run on (a `taskset -c 1` run says "1"). */
function cpusAllowed(): string {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function dominantBox(faces: DetectedFace[]): Box | null {
  const pick = dominantFace(faces);
  return "index" in pick ? faces[pick.index]!.box : null;
}

// --- Alternatives, for comparison only -------------------------------------------------------------------

/** Human's FaceRes descriptor (1024-D), the templates before this pipeline: same decode, in this process. */
async function faceresTemplater(): Promise<Templater> {
  const restoreFetch = serveOnlyHumanModels();
  const human = createHuman({ descriptor: true });
  await human.load();
  await human.tf.ready();
  const detect = async (photo: Buffer) => {
    const { data, info } = await sharp(photo).rotate().resize({ width: 1024, height: 1024, fit: "inside", withoutEnlargement: true }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    const input = human.tf.tensor4d(Int32Array.from(data), [1, info.height, info.width, 3], "int32");
    try {
      return (await human.detect(input as unknown as Tensor)).face.map((f) => ({ box: [f.box[0], f.box[1], f.box[2], f.box[3]] as Box, score: f.score, embedding: f.embedding }));
    } finally {
      human.tf.dispose(input);
    }
  };
  return {
    name: `human-${HUMAN_VERSION}/faceres (before; in-process, main thread)`,
    async template(photo) {
      const faces = await detect(photo);
      const pick = dominantFace(faces.map((f) => ({ box: f.box, score: f.score })));
      if ("cause" in pick) return { ok: false, cause: pick.cause };
      const embedding = faces[pick.index]!.embedding;
      return embedding?.length ? { ok: true, template: encodeTemplate(embedding) } : { ok: false, cause: "no_face" };
    },
    async dominantBox(photo) {
      return dominantBox((await detect(photo)).map((f) => ({ box: f.box, score: f.score })));
    },
    async close() {
      restoreFetch();
    },
  };
}

/**
 * The pipeline before this model id: Human's detector and 468-point mesh (tfjs, wasm) for the five points,
 * then the same alignment and recognition model, in this process. Same decode as the worker.
 */
async function humanMeshTemplater(): Promise<Templater> {
  const ort = await import("onnxruntime-node");
  const restoreFetch = serveOnlyHumanModels();
  const human = createHuman();
  await human.load();
  await human.tf.ready();
  const recogniser = await ort.InferenceSession.create(readFileSync(RECOGNITION_MODEL_FILE), {
    ...{ executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential" },
    ...{ graphOptimizationLevel: "extended", enableCpuMemArena: false },
  });
  const decode = async (photo: Buffer): Promise<RgbImage> => {
    const { data, info } = await sharp(photo, { failOn: "none" }).rotate().resize({ width: 640, height: 640, fit: "inside", withoutEnlargement: true }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  };
  const detect = async (img: RgbImage) => {
    const input = human.tf.tensor4d(img.data, [1, img.height, img.width, 3], "int32");
    try {
      return (await human.detect(input as unknown as Tensor)).face;
    } finally {
      human.tf.dispose(input);
    }
  };
  const boxes = (found: Awaited<ReturnType<typeof detect>>) => found.map((f) => ({ box: [f.box[0], f.box[1], f.box[2], f.box[3]] as Box, score: f.score }));
  return {
    name: `human-${HUMAN_VERSION}+align5/fr_feature (before: Human's detector and mesh; in-process, main thread)`,
    async template(photo) {
      const img = await decode(photo);
      const found = await detect(img);
      const pick = dominantFace(boxes(found));
      if ("cause" in pick) return { ok: false, cause: pick.cause };
      const points = fivePointsFromMesh(found[pick.index]!.mesh ?? []);
      if (!points) return { ok: false, cause: "no_face" };
      const aligned = await alignFace(img, points);
      const out = await recogniser.run({ [recogniser.inputNames[0]!]: new ort.Tensor("float32", toModelInput(aligned), [1, 3, ALIGNED_SIZE, ALIGNED_SIZE]) });
      const raw = out[recogniser.outputNames[0]!]!.data as Float32Array;
      const norm = Math.hypot(...raw);
      return { ok: true, template: encodeTemplate(Array.from(raw, (v) => v / norm)) };
    },
    async dominantBox(photo) {
      return dominantBox(boxes(await detect(await decode(photo))));
    },
    async close() {
      await recogniser.release();
      restoreFetch();
    },
  };
}

// --- Load through POST /api/identity/face/match: bench/match-load.ts (BENCH_LOAD=off skips it) ------------

async function main() {
  const t0 = performance.now();
  const set = await buildEvalSet();
  console.log(`face-match bench: ${path.relative(process.cwd(), fileURLToPath(new URL("../test/face/eval-set.json", import.meta.url)))} built in ${Math.round(performance.now() - t0)} ms`);
  console.log(`set A ${set.setA.length} women x (portrait + ${set.setA[0]?.altered.length} alterations), set B ${set.setB.length} photos of one man, set M ${set.setM.length} others`);
  console.log(`CPUs allowed: ${cpusAllowed()} (per-template times are one core's only under taskset -c <n>)`);
  console.log();

  const rssBefore = process.memoryUsage().rss;
  const engine = startFaceTemplateEngine({ workers: 1, timeoutMs: 60_000 });
  const { loadMs } = await engine.ready;
  const rssLoaded = process.memoryUsage().rss;
  const shipped = await templateAll(
    {
      name: engine.model,
      template: (p) => engine.template(p),
      dominantBox: async (p) => {
        const d = await engine.detect(p);
        return d.ok ? dominantBox(d.faces) : null;
      },
      close: () => engine.close(),
    },
    set,
  );
  const rssAfter = process.memoryUsage().rss;
  await engine.close();
  const verdict = report(`shipped: ${FACE_TEMPLATE_MODEL_ID}`, set, shipped);
  console.log(`engine load ${loadMs} ms (one worker); process RSS: ${mb(rssBefore)} MB before the engine, ${mb(rssLoaded)} MB loaded, ${mb(rssAfter)} MB after ${shipped.templates.size} templates (main thread + one worker)`);

  for (const alt of (process.env.BENCH_ALTERNATIVES ?? "").split(",").filter(Boolean)) {
    const make = { faceres: faceresTemplater, "human-mesh": humanMeshTemplater }[alt];
    if (!make) throw new Error(`unknown alternative ${alt} (known: faceres, human-mesh)`);
    console.log();
    const t = await make();
    report(t.name, set, await templateAll(t, set));
    await t.close();
  }

  let loadFailures: string[] = [];
  if (process.env.BENCH_LOAD !== "off") {
    console.log();
    console.log("=== under load: POST /api/identity/face/match through the service (PostgreSQL; bench/match-load.ts)");
    const load = await runMatchLoad(pct(shipped.timesMs, 50));
    console.log(JSON.stringify({ matches: load.matches, withVerdicts: load.withVerdicts }, null, 2));
    loadFailures = load.failures;
  }

  console.log();
  const failures = [
    verdict.fnmrB > FNMR_B_LIMIT && `FNMR on set B ${percent(verdict.fnmrB)} > ${percent(FNMR_B_LIMIT, 0)}`,
    verdict.fmrPooled > FMR_LIMIT && `FMR on the pooled impostors ${percent(verdict.fmrPooled, 2)} > ${percent(FMR_LIMIT, 0)}`,
    ...loadFailures,
  ].filter(Boolean);
  if (failures.length) {
    console.error(`FAIL at the default threshold ${DEFAULT_FACE_MATCH_THRESHOLD}: ${failures.join("; ")}`);
    process.exitCode = 1;
  } else {
    console.log(`PASS at the default threshold ${DEFAULT_FACE_MATCH_THRESHOLD}: FNMR on set B <= ${percent(FNMR_B_LIMIT, 0)} and FMR on the pooled impostors <= ${percent(FMR_LIMIT, 0)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
