import { AppError } from "../../errors.js";

/** Session lifetime and sign-in throttling (README "Compliance console" quotes these numbers). */
export const CONSOLE_SESSION = {
  idleMs: 30 * 60_000,
  absoluteMs: 12 * 60 * 60_000,
} as const;

/**
 * Failed sign-ins are counted over the last 15 minutes, per email (since its last successful sign-in) and
 * per client address. From the `slowAfter`-th failure on, each further attempt waits 1 s, 2 s, 4 s, … (at
 * most 8 s) before its password is checked; at `refuseAt` failures attempts are refused with 429 until the
 * oldest counted failure is 15 minutes old.
 */
export const SIGN_IN_THROTTLE = {
  windowMs: 15 * 60_000,
  email: { slowAfter: 3, refuseAt: 10 },
  client: { slowAfter: 10, refuseAt: 30 },
  firstDelayMs: 1_000,
  maxDelayMs: 8_000,
} as const;

/** The analyst a valid session belongs to, and what a page needs of the session. */
export interface ConsoleSessionContext {
  sessionId: string;
  analystId: string;
  orgId: string;
  email: string;
  name: string | null;
  /** The synchroniser token every POST of this session must carry. */
  csrfToken: string;
}

export class SignInThrottledError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, "too many failed sign-ins; try again later", "sign_in_throttled", { retryAfterSeconds });
  }
}
