// Console sign-in and sessions. A session is a random 256-bit cookie value; only its SHA-256 is stored, and
// it ends after 30 minutes without a request or 12 hours after sign-in, at sign-out, or when the analyst is
// disabled. Every sign-in, failure and sign-out is recorded (immutable table), and those records drive the
// throttle, so it holds across replicas and restarts; attempts still running in this process count too, so
// parallel guesses cannot slip past it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { setTimeout as sleepFor } from "node:timers/promises";
import type { Sealer } from "../../crypto/seal.js";
import type { PrismaClient } from "../../db/types.js";
import { newId } from "../../ids.js";
import { analystsDal } from "../analysts/analysts-dal.js";
import { ANALYST_LIMITS, normaliseEmail } from "../analysts/analysts-types.js";
import { dummyPasswordHash, hashPassword, verifyPassword } from "../analysts/password.js";
import { consoleSessionsDal, type SignInEventKind } from "./console-sessions-dal.js";
import { CONSOLE_SESSION, SIGN_IN_THROTTLE, SignInThrottledError, type ConsoleSessionContext } from "./console-sessions-types.js";

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const USER_AGENT_CHARS = 300;
const MAX_PASSWORD_CHARS = 1024; // scrypt takes any length; a megabyte "password" is only a way to burn CPU

const hashToken = (token: string) => new Uint8Array(createHash("sha256").update(token, "utf8").digest());

/** The session's anti-CSRF token: an HMAC keyed by the session's own secret, so it needs no storage. */
const csrfTokenOf = (token: string) => createHmac("sha256", token).update("qe-console-csrf").digest("base64url");

export interface ClientInfo {
  ip: string;
  userAgent?: string;
}

export type SignInResult = { ok: true; token: string; session: ConsoleSessionContext } | { ok: false };

interface Deps {
  prisma: PrismaClient;
  /** Signs the sign-in form's token (a MAC under a key derived from the sealing keys, shared by all replicas). */
  sealer: Sealer;
  now?: () => Date;
  /** How an attempt is slowed down (tests pass one that advances their clock instead). */
  sleep?: (ms: number) => Promise<unknown>;
}

/** How long a sign-in form stays usable, and when a new one gets a fresh pre-session value. */
export const LOGIN_FORM = { maxAgeMs: 60 * 60_000, renewAfterMs: 30 * 60_000 } as const;
const LOGIN_COOKIE_PATTERN = /^(\d{13})\.([A-Za-z0-9_-]{22})$/;

export function createConsoleSessionsService({ prisma, sealer, now = () => new Date(), sleep = sleepFor }: Deps) {
  const loginCookieAge = (value: string | undefined): number | undefined => {
    const m = LOGIN_COOKIE_PATTERN.exec(value ?? "");
    if (!m) return undefined;
    const age = now().getTime() - Number(m[1]);
    return age >= 0 && age < LOGIN_FORM.maxAgeMs ? age : undefined;
  };

  /** Sign-in attempts running in this process, per throttle key (not yet recorded as failures). */
  const inFlight = new Map<string, number>();
  const hold = (key: string, delta: number) => {
    const n = (inFlight.get(key) ?? 0) + delta;
    if (n <= 0) inFlight.delete(key);
    else inFlight.set(key, n);
  };

  const record = (kind: SignInEventKind, e: { email: string; analystId?: string; orgId?: string; cause?: string; client: ClientInfo }) =>
    consoleSessionsDal.recordEvent(prisma, {
      id: newId.consoleSignInEvent(),
      kind,
      email: e.email.slice(0, ANALYST_LIMITS.emailChars),
      analystId: e.analystId ?? null,
      orgId: e.orgId ?? null,
      cause: e.cause ?? null,
      ip: e.client.ip,
      userAgent: e.client.userAgent?.slice(0, USER_AGENT_CHARS) ?? null,
      createdAt: now(),
    });

  /** The delay before this attempt, or a refusal, from the failures so far (recorded and running). */
  async function throttle(email: string, ip: string): Promise<number> {
    const at = now().getTime();
    const windowStart = new Date(at - SIGN_IN_THROTTLE.windowMs);
    const lastSuccess = await consoleSessionsDal.lastSignIn(prisma, email);
    const emailSince = lastSuccess && lastSuccess > windowStart ? lastSuccess : windowStart;
    const [byEmail, byClient] = await Promise.all([
      consoleSessionsDal.recentFailures(prisma, { email }, emailSince, SIGN_IN_THROTTLE.email.refuseAt),
      consoleSessionsDal.recentFailures(prisma, { ip }, windowStart, SIGN_IN_THROTTLE.client.refuseAt),
    ]);
    let delay = 0;
    let retryAt = 0;
    for (const [failures, running, rule] of [
      [byEmail, (inFlight.get(`email:${email}`) ?? 1) - 1, SIGN_IN_THROTTLE.email],
      [byClient, (inFlight.get(`ip:${ip}`) ?? 1) - 1, SIGN_IN_THROTTLE.client],
    ] as const) {
      const count = failures.length + running;
      if (count >= rule.refuseAt) {
        // refused until enough of the counted failures are older than the window
        const oldest = failures[Math.max(0, rule.refuseAt - 1 - running)] ?? failures.at(-1);
        retryAt = Math.max(retryAt, (oldest ? oldest.getTime() : at) + SIGN_IN_THROTTLE.windowMs);
      } else if (count >= rule.slowAfter) {
        delay = Math.max(delay, Math.min(SIGN_IN_THROTTLE.maxDelayMs, SIGN_IN_THROTTLE.firstDelayMs * 2 ** (count - rule.slowAfter)));
      }
    }
    if (retryAt) throw new SignInThrottledError(Math.max(1, Math.ceil((retryAt - at) / 1000)));
    return delay;
  }

  async function endSession(id: string) {
    await consoleSessionsDal.delete(prisma, id);
  }

  return {
    /**
     * The sign-in form's anti-CSRF pair (signed double submit): a pre-session cookie value (issue time and a
     * random nonce) and the form field, its MAC. A forged form cannot carry a field matching the victim's
     * cookie, and a cookie planted from elsewhere cannot be paired without the key.
     */
    loginForm(cookieValue: string | undefined): { cookie: string; field: string } {
      const age = loginCookieAge(cookieValue);
      const cookie = age !== undefined && age < LOGIN_FORM.renewAfterMs ? cookieValue! : `${now().getTime()}.${randomBytes(16).toString("base64url")}`;
      return { cookie, field: sealer.mac("console.login-csrf", cookie) };
    },

    loginFormValid(cookieValue: string | undefined, field: string | undefined): boolean {
      if (loginCookieAge(cookieValue) === undefined || !field) return false;
      return sealer.verifyMac("console.login-csrf", cookieValue!, field);
    },

    /** Checks the credentials (the same work whether or not the email exists) and opens a session. */
    async signIn(input: { email: string; password: string; client: ClientInfo }): Promise<SignInResult> {
      const email = normaliseEmail(input.email).slice(0, ANALYST_LIMITS.emailChars);
      const keys = [`email:${email}`, `ip:${input.client.ip}`];
      for (const k of keys) hold(k, 1); // counted before anything is awaited: parallel attempts see each other
      try {
        const delay = await throttle(email, input.client.ip);
        if (delay > 0) await sleep(delay);
        const analyst = email ? await analystsDal.findByEmail(prisma, email) : null;
        const password = input.password.length <= MAX_PASSWORD_CHARS ? input.password : "";
        const { ok, stale } = await verifyPassword(password, analyst?.passwordHash ?? (await dummyPasswordHash()));
        if (!analyst || !ok || analyst.disabledAt || !password) {
          const cause = !analyst ? "unknown_email" : !ok || !password ? "wrong_password" : "disabled";
          await record("sign_in_failed", { email, analystId: analyst?.id, orgId: analyst?.orgId, cause, client: input.client });
          return { ok: false };
        }
        const at = now();
        await consoleSessionsDal.purgeExpired(prisma, at, new Date(at.getTime() - CONSOLE_SESSION.idleMs));
        const token = randomBytes(32).toString("base64url");
        const session = await consoleSessionsDal.create(prisma, {
          id: newId.consoleSession(),
          analystId: analyst.id,
          orgId: analyst.orgId,
          tokenHash: hashToken(token),
          expiresAt: new Date(at.getTime() + CONSOLE_SESSION.absoluteMs),
          lastSeenAt: at,
          ip: input.client.ip,
          createdAt: at,
        });
        await record("sign_in", { email, analystId: analyst.id, orgId: analyst.orgId, client: input.client });
        if (stale) await analystsDal.setPasswordHash(prisma, analyst.id, await hashPassword(password));
        return {
          ok: true,
          token,
          session: { sessionId: session.id, analystId: analyst.id, orgId: analyst.orgId, email: analyst.email, name: analyst.name, csrfToken: csrfTokenOf(token) },
        };
      } finally {
        for (const k of keys) hold(k, -1);
      }
    },

    /** The session a cookie value names, if it is still valid (and then it counts as activity). */
    async authenticate(token: string | undefined): Promise<ConsoleSessionContext | undefined> {
      if (!token || !TOKEN_PATTERN.test(token)) return undefined;
      const hash = hashToken(token);
      const row = await consoleSessionsDal.findByTokenHash(prisma, hash);
      if (!row || !timingSafeEqual(row.tokenHash, hash)) return undefined;
      const at = now().getTime();
      const expired = at >= row.expiresAt.getTime() || at >= row.lastSeenAt.getTime() + CONSOLE_SESSION.idleMs;
      if (expired || row.analyst.disabledAt || row.analyst.orgId !== row.orgId) {
        await endSession(row.id);
        return undefined;
      }
      await consoleSessionsDal.touch(prisma, row.id, new Date(at));
      return { sessionId: row.id, analystId: row.analyst.id, orgId: row.orgId, email: row.analyst.email, name: row.analyst.name, csrfToken: csrfTokenOf(token) };
    },

    /** Whether `presented` is this session's anti-CSRF token (constant-time). */
    csrfMatches(token: string, presented: string | undefined): boolean {
      const want = Buffer.from(csrfTokenOf(token));
      const got = Buffer.from(presented ?? "");
      return got.length === want.length && timingSafeEqual(got, want);
    },

    /** Ends the session and records the sign-out. */
    async signOut(session: ConsoleSessionContext, client: ClientInfo): Promise<void> {
      await endSession(session.sessionId);
      await record("sign_out", { email: session.email, analystId: session.analystId, orgId: session.orgId, cause: "sign_out", client });
    },
  };
}
export type ConsoleSessionsService = ReturnType<typeof createConsoleSessionsService>;
