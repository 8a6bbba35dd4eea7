// How a face comparison becomes a decision (face-match.md): the score is round(100 × max(0, cosine)) of the
// two templates, the decision is score ≥ threshold. The default threshold is the one `npm run
// bench:face-match` supports (README "Face templates"); an org may be given its own with the admin CLI.
import { compareTemplates } from "./engine.js";

/**
 * Default decision threshold on the score's 0-100 scale, for the pipeline of pipeline.ts. From
 * bench:face-match: the lowest score at which false matches stay at or under 1 % both on the pooled
 * impostors (0.28 %) and on different men against the one man's different photos (2 of 255), while 5 of
 * that man's 136 genuine pairs (3.7 %) fall below it. (35 already meets 1 % on the pooled impostors alone,
 * but lets 4 of 255 cross-photo impostors through.) A template of another model needs its own threshold.
 */
export const DEFAULT_FACE_MATCH_THRESHOLD = 40;

export const FACE_MATCH_THRESHOLD_RANGE = { min: 0, max: 100 } as const;

/** The comparison score of two templates of the same model: an integer 0-100, not a probability. */
export function matchScore(a: Uint8Array, b: Uint8Array): number {
  return Math.round(100 * Math.max(0, compareTemplates(a, b)));
}
