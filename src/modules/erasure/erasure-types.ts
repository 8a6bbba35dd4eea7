/** What one erasure removed: sealed photos and templates of face enrolments, face-match selfies, raw envelopes. */
export interface ErasureCounts {
  photos: number;
  templates: number;
  selfies: number;
  raw: number;
}

/** `request`: `admin customer erase`; `retention`: the org's retention windows (the sweep). */
export const ERASURE_TRIGGERS = ["request", "retention"] as const;
export type ErasureTrigger = (typeof ERASURE_TRIGGERS)[number];

export const ERASURE_KINDS = ["photos", "templates", "selfies", "raw"] as const satisfies readonly (keyof ErasureCounts)[];

export const zeroCounts = (): ErasureCounts => ({ photos: 0, templates: 0, selfies: 0, raw: 0 });

export interface CustomerErasure {
  customerId: string;
  /** The time stamped on every row this run erased (and the erasure record's createdAt). */
  erasedAt: string;
  /** What this run erased (a second run erases nothing more: zeros). */
  erased: ErasureCounts;
}

/** One line of `erasure log` (a retention sweep's record has customerId null and actor "retention"). */
export interface ErasureRecordView {
  id: string;
  orgId: string;
  customerId: string | null;
  actor: string;
  reason: string;
  createdAt: string;
  erased: ErasureCounts;
}

/** Progress after each committed batch (admin CLI progress lines; the fault tests wait for them). */
export interface ErasureProgress {
  customerId: string;
  batch: number;
  erased: ErasureCounts;
}
