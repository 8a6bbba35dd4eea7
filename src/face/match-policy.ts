// How a face comparison becomes a decision (face-match.md): the score is round(100 × max(0, cosine)) of the
// two templates, the decision is score ≥ threshold. The default threshold is the one `npm run
// bench:face-match` supports (README "Face match"); an org may be given its own with the admin CLI.
import { compareTemplates } from "./engine.js";

/** Default decision threshold on the score's 0-100 scale (bench:face-match: FMR ≤ 1 % on its impostors). */
export const DEFAULT_FACE_MATCH_THRESHOLD = 33;

export const FACE_MATCH_THRESHOLD_RANGE = { min: 0, max: 100 } as const;

/** The comparison score of two templates of the same model: an integer 0-100, not a probability. */
export function matchScore(a: Uint8Array, b: Uint8Array): number {
  return Math.round(100 * Math.max(0, compareTemplates(a, b)));
}
