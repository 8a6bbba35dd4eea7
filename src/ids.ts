// Identifiers. Customers are CUIDs (the platform's convention); server-made records carry a type prefix and
// a ULID, so ids sort by creation time and say what they are.
import { createId } from "@paralleldrive/cuid2";
import { monotonicFactory } from "ulid";

const ulid = monotonicFactory();

export const newId = {
  org: () => `org_${ulid()}`,
  apiKey: () => `key_${ulid()}`,
  verification: () => `ver_${ulid()}`,
  faceEnrolment: () => `fe_${ulid()}`,
  tierEvent: () => `kte_${ulid()}`,
  analyst: () => `an_${ulid()}`,
  consoleSession: () => `cs_${ulid()}`,
  consoleSignInEvent: () => `csi_${ulid()}`,
  customer: () => createId(),
};

/** A CUID (v1 "c…" 25 chars, or v2: lowercase letter then base36, 24 chars by default). */
export const CUID_PATTERN = /^[a-z][0-9a-z]{7,31}$/;
