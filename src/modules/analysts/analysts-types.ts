export interface CreatedAnalyst {
  id: string;
  orgId: string;
  email: string;
  /** Shown once, at creation; only its hash is stored. */
  password: string;
}

/** The analyst a console session belongs to. */
export interface AnalystView {
  id: string;
  orgId: string;
  email: string;
  name: string | null;
}

export const ANALYST_LIMITS = { emailChars: 254, nameChars: 100 } as const;

/** Trimmed and lowercased: the one spelling stored, looked up and recorded. */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

// Deliberately loose (one @, a dot in the domain, no spaces or angle brackets): the address is an identifier
// typed by ops, not something we send mail to.
export const EMAIL_PATTERN = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;
