import type { EnrolmentSource } from "../enrolments/enrolments-dal.js";

export interface FaceMatchInput {
  orgId: string;
  apiKeyId: string;
  requestId: string;
  customerId: string;
  /** Standard base64 of the live selfie (JPEG or PNG). */
  photo: string;
}

export interface FaceMatchResult {
  verification: { id: string; status: "verified" | "failed"; score: number };
  reference: { id: string; source: EnrolmentSource };
  threshold: number;
  model: string;
}

/** What the face match tells its observers (metrics) once a match has committed. */
export interface FaceMatchRecorded {
  status: "verified" | "failed";
  source: EnrolmentSource;
  /** The reference's template was made (again) for this match: a stub, or another model's template. */
  referenceRetemplated: boolean;
}
