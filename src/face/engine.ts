// The face engine seen from the ingest: asked for a template of an enrolment photo, it either returns one or
// says why not. A verdict is never lost because of the engine: without a template the enrolment is still
// written, as a fallback stub with its cause.

export type FallbackCause = "no_face" | "multiple_faces" | "engine_off" | "engine_error" | "timeout";

export type TemplateResult =
  | { ok: true; template: Buffer; model: string }
  | { ok: false; cause: FallbackCause };

/** A face found in a photo: its box ([x, y, width, height] in pixels of the analysed image) and detector score. */
export interface DetectedFace {
  box: [number, number, number, number];
  score: number;
}

export type DetectResult = { ok: true; faces: DetectedFace[] } | { ok: false; cause: "engine_off" | "engine_error" | "timeout" };

/**
 * Who is waiting for a template, in the order free workers serve them: a verdict's enrolment first (the
 * registry's verdict must not become a timeout stub because matches queue ahead of it), then a face match
 * (a bank's customer is waiting), then batch re-templating (nobody is waiting).
 */
export const TEMPLATE_PRIORITIES = ["enrolment", "match", "batch"] as const;
export type TemplatePriority = (typeof TEMPLATE_PRIORITIES)[number];

export interface TemplateOptions {
  /** Default `enrolment`. */
  priority?: TemplatePriority;
  /**
   * Decode the photo under the photo rules (photo/inspect.ts STRICT_DECODE): a photo that does not decode so
   * (truncated or corrupt data, most likely) is not analysed, and the answer is `engine_error`. Only for a
   * photo the engine analyses at full size (no side over ANALYSIS_MAX_SIDE): its decode is then the very decode
   * the rules ask for, so a caller that gets a template or a finding about the faces need not decode it a
   * second time (face/prepare.ts).
   */
  checkDecode?: boolean;
}

/**
 * Photos larger than this on their longer side are reduced to it as they are decoded (JPEG shrink-on-load), so
 * every step of the analysis touches few pixels; a usual portrait or registry photo is used as decoded. A
 * reduced decode may skip the last of the image data, so it cannot stand for the photo rules' full decode.
 */
export const ANALYSIS_MAX_SIDE = 1024;

export interface FaceTemplater {
  /** Model id and version every template of this engine carries (e.g. `fr_detect-6c0256ccd316+fr_landmark68-f10b0ba1d2a8+align5/fr_feature-87aacdfe5751`); null when off. */
  readonly model: string | null;
  /** How many photos the engine works on at once (its worker threads); 0 when off. */
  readonly capacity: number;
  /** Every face in the photo. */
  detect(photo: Buffer, opts?: TemplateOptions): Promise<DetectResult>;
  /** The template of the photo's one (or one clearly dominant) face, or why there is none. */
  template(photo: Buffer, opts?: TemplateOptions): Promise<TemplateResult>;
  close(): Promise<void>;
}

/** FACE_ENGINE=off, or no engine configured: every enrolment is a stub with cause `engine_off`. */
export const faceEngineOff: FaceTemplater = {
  model: null,
  capacity: 0,
  detect: async () => ({ ok: false, cause: "engine_off" }),
  template: async () => ({ ok: false, cause: "engine_off" }),
  close: async () => {},
};

/**
 * A second face at least this fraction of the largest face's area makes the photo ambiguous: whose face is
 * the reference? Below it (a face on a badge, a bystander far behind) the largest face is clearly dominant.
 */
export const DOMINANCE_AREA_RATIO = 0.25;

/** Index of the face a template should be made of, or why there is none. */
export function dominantFace(faces: readonly DetectedFace[]): { index: number } | { cause: "no_face" | "multiple_faces" } {
  if (faces.length === 0) return { cause: "no_face" };
  const areas = faces.map((f) => Math.max(0, f.box[2]) * Math.max(0, f.box[3]));
  const order = areas.map((_, i) => i).sort((a, b) => areas[b]! - areas[a]!);
  const [first, second] = order;
  if (second !== undefined && areas[second]! >= DOMINANCE_AREA_RATIO * areas[first!]!) return { cause: "multiple_faces" };
  return { index: first! };
}

/** Templates are stored as little-endian float32 vectors (the model id says which model made them). */
export function encodeTemplate(embedding: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(embedding.length * 4);
  for (let i = 0; i < embedding.length; i++) out.writeFloatLE(embedding[i]!, i * 4);
  return out;
}

export function decodeTemplate(template: Uint8Array): Float32Array {
  if (template.byteLength === 0 || template.byteLength % 4 !== 0) throw new Error("not a face template");
  const buf = Buffer.from(template.buffer, template.byteOffset, template.byteLength);
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/**
 * Cosine similarity of two templates of the same model, in [-1, 1]. A measure, not a decision: the
 * decision is match-policy.ts's (score and threshold).
 */
export function compareTemplates(a: Uint8Array, b: Uint8Array): number {
  const x = decodeTemplate(a);
  const y = decodeTemplate(b);
  if (x.length !== y.length) throw new Error("templates of different lengths (different models?)");
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i]! * y[i]!;
    nx += x[i]! * x[i]!;
    ny += y[i]! * y[i]!;
  }
  return nx === 0 || ny === 0 ? 0 : dot / Math.sqrt(nx * ny);
}
