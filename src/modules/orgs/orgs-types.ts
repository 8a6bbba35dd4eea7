export const CAPABILITIES = ["dukcapilEnabled"] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Rate-limit buckets and their platform defaults (requests per minute per API key). */
export const RATE_LIMIT_BUCKETS = {
  "identity.nik.dukcapil": 30,
  "identity.face.match": 120,
  "customers.create": 120,
  "identity.kyc.read": 600,
  "identity.attempts.list": 600,
  "identity.attempts.export": 10,
} as const;
export type RateLimitBucket = keyof typeof RATE_LIMIT_BUCKETS;

export function isRateLimitBucket(b: string): b is RateLimitBucket {
  return Object.hasOwn(RATE_LIMIT_BUCKETS, b);
}

export interface OrgView {
  id: string;
  name: string;
  dukcapilEnabled: boolean;
  /** The org's own face-match threshold (0-100); null: the platform default applies. */
  faceMatchThreshold: number | null;
  /** Days raw registry envelopes are kept; null: until erased (README "Erasure and retention"). */
  retainRawDays: number | null;
  /** Days face-match selfies are kept; null: until erased. */
  retainSelfiesDays: number | null;
  rateLimits: Record<string, number>;
  createdAt: string;
}
