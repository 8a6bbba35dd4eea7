// KYC tiers from verification history: every subset of (method × status) facts, checked against the platform
// conventions' ladder written out independently here, and every ordered pair of tiers for higherTier.
import { describe, expect, it } from "vitest";
import {
  TIERS,
  VERIFICATION_METHODS,
  VERIFICATION_STATUSES,
  higherTier,
  tierFromHistory,
  tierRank,
  type Tier,
  type VerificationFact,
} from "../../src/kyc/tier.js";

const FACTS: VerificationFact[] = VERIFICATION_METHODS.flatMap((method) => VERIFICATION_STATUSES.map((status) => ({ method, status })));

/** The conventions, spelled out: none → basic (nik_format) → standard (ktp_capture | nik_dukcapil) → premium (+ face_match). */
function expectedTier(history: VerificationFact[]): Tier {
  const ok = (m: string) => history.some((f) => f.method === m && f.status === "verified");
  const document = ok("ktp_capture") || ok("nik_dukcapil");
  if (document && ok("face_match")) return "premium";
  if (document) return "standard";
  if (ok("nik_format")) return "basic";
  return "none";
}

describe("tierFromHistory", () => {
  it("knows every method and status of the conventions", () => {
    expect([...VERIFICATION_METHODS].sort()).toEqual(["face_liveness", "face_match", "ktp_capture", "nik_dukcapil", "nik_format"]);
    expect([...VERIFICATION_STATUSES].sort()).toEqual(["failed", "verified"]);
    expect([...TIERS]).toEqual(["none", "basic", "standard", "premium"]);
    expect(FACTS).toHaveLength(10);
  });

  it("agrees with the ladder on every one of the 1024 subsets of method × status, in any order", () => {
    const seen = new Set<Tier>();
    for (let mask = 0; mask < 1 << FACTS.length; mask++) {
      const history = FACTS.filter((_, i) => mask & (1 << i));
      const want = expectedTier(history);
      seen.add(want);
      expect(tierFromHistory(history), JSON.stringify(history)).toBe(want);
      expect(tierFromHistory([...history].reverse()), "order must not matter").toBe(want);
      // duplicates and an iterable that is not an array change nothing
      expect(tierFromHistory(new Set([...history, ...history]).values())).toBe(want);
      expect(tierFromHistory([...history, ...history])).toBe(want);
    }
    expect([...seen].sort()).toEqual([...TIERS].sort());
  });

  it("spot checks: failed verifications never count; face alone is nothing; liveness never raises a tier", () => {
    expect(tierFromHistory([])).toBe("none");
    expect(tierFromHistory(FACTS.filter((f) => f.status === "failed"))).toBe("none");
    expect(tierFromHistory([{ method: "face_match", status: "verified" }])).toBe("none");
    expect(tierFromHistory([{ method: "face_liveness", status: "verified" }])).toBe("none");
    expect(tierFromHistory([{ method: "nik_format", status: "verified" }, { method: "face_match", status: "verified" }])).toBe("basic");
    expect(tierFromHistory([{ method: "nik_dukcapil", status: "verified" }])).toBe("standard");
    expect(tierFromHistory([{ method: "ktp_capture", status: "verified" }])).toBe("standard");
    expect(tierFromHistory([{ method: "nik_dukcapil", status: "verified" }, { method: "face_match", status: "verified" }])).toBe("premium");
    expect(tierFromHistory([{ method: "nik_dukcapil", status: "verified" }, { method: "face_match", status: "failed" }])).toBe("standard");
    expect(tierFromHistory([{ method: "nik_dukcapil", status: "failed" }, { method: "face_match", status: "verified" }])).toBe("none");
  });
});

describe("higherTier / tierRank", () => {
  it("ranks the tiers in the ladder's order", () => {
    expect(TIERS.map(tierRank)).toEqual([0, 1, 2, 3]);
  });

  it("returns the higher of every ordered pair, and is commutative and idempotent", () => {
    for (const a of TIERS) {
      for (const b of TIERS) {
        const want = TIERS.indexOf(a) >= TIERS.indexOf(b) ? a : b;
        expect(higherTier(a, b), `${a} vs ${b}`).toBe(want);
        expect(higherTier(b, a)).toBe(want);
      }
      expect(higherTier(a, a)).toBe(a);
    }
  });

  it("never lowers a stored tier: folding any history's tiers over any start only goes up", () => {
    for (const start of TIERS) {
      for (let mask = 0; mask < 1 << FACTS.length; mask += 7) {
        const eligible = tierFromHistory(FACTS.filter((_, i) => mask & (1 << i)));
        const next = higherTier(start, eligible);
        expect(tierRank(next)).toBeGreaterThanOrEqual(tierRank(start));
        expect(tierRank(next)).toBeGreaterThanOrEqual(tierRank(eligible));
      }
    }
  });
});
