export interface DukcapilVerdictInput {
  orgId: string;
  apiKeyId: string;
  requestId: string;
  customerId: string;
  valid: boolean;
  /** Standard base64 of the official photo; required when valid. */
  photo?: string;
  /** The registry's response envelope exactly as sent (JSON text), stored sealed for audit. */
  rawText?: string;
  reason?: string;
}

export interface DukcapilVerdictResult {
  verification: { id: string; status: "verified"; score: number } | { id: string; status: "failed" };
  enrolment: { id: string; source: "dukcapil"; fallbackStub: boolean } | null;
}

/** What the ingest tells its observers (metrics) once a verdict has committed. */
export interface DukcapilRecorded {
  status: "verified" | "failed";
  enrolment: { source: "dukcapil"; fallbackStub: boolean; fallbackCause: string | null } | null;
}
