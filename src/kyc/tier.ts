// KYC tiers, derived from verification history. Pure: no I/O.
//   none → basic (verified nik_format) → standard (verified ktp_capture or nik_dukcapil)
//        → premium (standard plus a verified face_match)
// Tiers never drop automatically: the stored tier only moves up.

export const TIERS = ["none", "basic", "standard", "premium"] as const;
export type Tier = (typeof TIERS)[number];

export const VERIFICATION_METHODS = ["nik_format", "nik_dukcapil", "ktp_capture", "face_liveness", "face_match"] as const;
export type VerificationMethod = (typeof VERIFICATION_METHODS)[number];
export const VERIFICATION_STATUSES = ["verified", "failed"] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

export interface VerificationFact {
  method: VerificationMethod;
  status: VerificationStatus;
}

export function tierRank(t: Tier): number {
  return TIERS.indexOf(t);
}

export function higherTier(a: Tier, b: Tier): Tier {
  return tierRank(a) >= tierRank(b) ? a : b;
}

/** The tier a customer is eligible for given every verification on record. */
export function tierFromHistory(history: Iterable<VerificationFact>): Tier {
  const verified = new Set<VerificationMethod>();
  for (const v of history) if (v.status === "verified") verified.add(v.method);
  const documentVerified = verified.has("nik_dukcapil") || verified.has("ktp_capture");
  if (documentVerified && verified.has("face_match")) return "premium";
  if (documentVerified) return "standard";
  if (verified.has("nik_format")) return "basic";
  return "none";
}

/** Why a tier changed, for the tier event. */
export function tierChangeReason(trigger: VerificationFact, to: Tier): string {
  return `${trigger.method} ${trigger.status}: tier ${to}`;
}
