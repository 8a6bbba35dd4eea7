// The console's sessions and sign-in records with several analysts and sessions at once, through the service
// on a real database and a clock the test moves (test/console/console.test.ts drives the pages, one browser at
// a time): ending, touching or purging one session never reaches another, and the throttle counts exactly
// the failures inside its window.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_SESSION, SIGN_IN_THROTTLE, SignInThrottledError } from "../../src/modules/console-sessions/console-sessions-types.js";
import { createConsoleSessionsService, LOGIN_FORM, type ClientInfo } from "../../src/modules/console-sessions/console-sessions-service.js";
import { createTestContext, type TestContext } from "../helpers/app.js";

const MIN = 60_000;
let now = Date.parse("2026-12-01T08:00:00Z");
const slept: number[] = [];
/** When set, the next attempt to be slowed down waits in its delay until this settles (see `heldInFlight`). */
let gate: Promise<void> | undefined;
let ctx: TestContext;
let orgId: string;

beforeAll(async () => {
  ctx = await createTestContext({
    clock: {
      now: () => new Date(now),
      sleep: async (ms: number) => {
        slept.push(ms);
        now += ms;
        const held = gate;
        gate = undefined;
        if (held) await held;
      },
    },
  });
  orgId = (await ctx.tenant()).orgId;
});
afterAll(async () => {
  await ctx?.close();
});

let clients = 0;
/** A client address of its own, so one test's failures never throttle another's. */
const client = (userAgent?: string): ClientInfo => ({ ip: `198.51.100.${++clients}`, userAgent });

async function analyst(email: string) {
  return ctx.services.analysts.create({ orgId, email });
}

async function signedIn(a: { email: string; password: string }) {
  const res = await ctx.services.consoleSessions.signIn({ email: a.email, password: a.password, client: client() });
  if (!res.ok) throw new Error(`sign-in of ${a.email} failed`);
  return res;
}

/**
 * Starts a sign-in attempt and keeps it running, held in its delay, until the returned function lets it go
 * on (it then resolves to the attempt's outcome). The attempt must be one the throttle slows down.
 */
async function heldInFlight(attempt: () => Promise<unknown>): Promise<() => Promise<unknown>> {
  let release!: () => void;
  gate = new Promise<void>((resolve) => (release = resolve));
  let settled = false;
  const outcome = attempt().then(
    (r) => ((settled = true), r),
    (e: unknown) => ((settled = true), e),
  );
  const waitingForIt = () => gate !== undefined; // the attempt's delay takes the gate when it starts
  while (waitingForIt() && !settled) await new Promise((resolve) => setTimeout(resolve, 5));
  if (settled) throw new Error(`the attempt was not slowed down: ${String(await outcome)}`);
  return async () => {
    release();
    return outcome;
  };
}

const valid = async (token: string) => (await ctx.services.consoleSessions.authenticate(token)) !== undefined;

describe("several sessions at once", () => {
  it("signing out ends that session only: the analyst's other session and another analyst's stay", async () => {
    const ana = await analyst("ana@sessions.example");
    const budi = await analyst("budi@sessions.example");
    const [a1, a2, b1] = [await signedIn(ana), await signedIn(ana), await signedIn(budi)];
    await ctx.services.consoleSessions.signOut(a1.session, client());
    expect([await valid(a1.token), await valid(a2.token), await valid(b1.token)]).toEqual([false, true, true]);
    expect(await ctx.prisma.consoleSession.count({ where: { id: { in: [a2.session.sessionId, b1.session.sessionId] } } })).toBe(2);
  });

  it("a request keeps its own session alive, not the others", async () => {
    const citra = await analyst("citra@sessions.example");
    const [active, idle] = [await signedIn(citra), await signedIn(citra)];
    now += 20 * MIN;
    expect(await valid(active.token)).toBe(true); // seen at +20 min
    now += CONSOLE_SESSION.idleMs - 10 * MIN; // +40 min: 20 min after `active` was last seen, 40 after `idle`
    expect([await valid(active.token), await valid(idle.token)]).toEqual([true, false]);
    expect(await ctx.prisma.consoleSession.count({ where: { id: idle.session.sessionId } })).toBe(0); // ended when found expired
  });

  it("disabling an analyst ends their sessions and no one else's", async () => {
    const dewi = await analyst("dewi@sessions.example");
    const eko = await analyst("eko@sessions.example");
    const [d1, e1] = [await signedIn(dewi), await signedIn(eko)];
    await ctx.services.analysts.disable(dewi.id);
    expect([await valid(d1.token), await valid(e1.token)]).toEqual([false, true]);
  });

  it("a sign-in purges every session past its end or idle too long, whoever's, and keeps the live ones", async () => {
    const fajar = await analyst("fajar@sessions.example");
    const gita = await analyst("gita@sessions.example");
    const stale = await signedIn(fajar); // left idle
    now += 20 * MIN;
    const live = await signedIn(gita);
    now += CONSOLE_SESSION.idleMs - 10 * MIN; // `stale` idle 40 min, `live` 20 min: neither used since
    const ids = [stale.session.sessionId, live.session.sessionId];
    expect(await ctx.prisma.consoleSession.count({ where: { id: { in: ids } } })).toBe(2); // nothing ends them by itself
    const next = await signedIn(fajar);
    const left = await ctx.prisma.consoleSession.findMany({ where: { id: { in: [...ids, next.session.sessionId] } }, select: { id: true } });
    expect(left.map((r) => r.id).sort()).toEqual([live.session.sessionId, next.session.sessionId].sort());

    // past the absolute end, however recently used: kept busy until just before its end, then the clock
    // reaches the end with no request of its own (a request would end it itself), so only the purge can
    const long = await signedIn(gita);
    const end = now + CONSOLE_SESSION.absoluteMs;
    while (now + 25 * MIN < end) {
      now += 25 * MIN;
      expect(await valid(long.token)).toBe(true);
    }
    now = end; // last seen under 25 minutes ago: not idle
    expect(await ctx.prisma.consoleSession.count({ where: { id: long.session.sessionId } })).toBe(1);
    await signedIn(fajar);
    expect(await ctx.prisma.consoleSession.count({ where: { id: long.session.sessionId } })).toBe(0);
  });
});

// Each of these signs in ten to thirty times, each attempt a real scrypt check (about 0.1-0.5 s on a busy
// two-core machine): more than the default per-test timeout allows for when other suites run alongside.
describe("the throttle's window", { timeout: 180_000 }, () => {
  const fail = (email: string, c: ClientInfo) => ctx.services.consoleSessions.signIn({ email, password: "not-the-password-123", client: c });

  it("counts an email's failures only since its last successful sign-in", async () => {
    const hana = await analyst("hana@sessions.example");
    await signedIn(hana); // an earlier success: the failures after it, up to the next one, count until then
    for (let i = 0; i < SIGN_IN_THROTTLE.email.refuseAt - 1; i++) {
      now += 1_000; // each after the success (a failure in the same millisecond is not "since" it)
      expect((await fail(hana.email, client())).ok).toBe(false);
    }
    now += 1_000;
    await signedIn(hana); // slowed, not refused
    slept.length = 0;
    for (let i = 0; i <= SIGN_IN_THROTTLE.email.slowAfter; i++) {
      now += 1_000;
      expect((await fail(hana.email, client())).ok).toBe(false);
    }
    // the failures before the success no longer count: only the attempt after slowAfter failures since it waits
    expect(slept).toEqual([SIGN_IN_THROTTLE.firstDelayMs]);
  });

  it("forgets a failure once it is a whole window old, to the millisecond", async () => {
    const indra = await analyst("indra@sessions.example");
    for (let i = 0; i < SIGN_IN_THROTTLE.email.refuseAt; i++) await fail(indra.email, client());
    const lastFailureAt = now; // the clock moved with each delay: the last failure is the newest
    const refused = await ctx.services.consoleSessions.signIn({ email: indra.email, password: indra.password, client: client() }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SignInThrottledError);
    const events = await ctx.prisma.consoleSignInEvent.findMany({ where: { email: indra.email, kind: "sign_in_failed" }, orderBy: { createdAt: "asc" } });
    expect(events).toHaveLength(SIGN_IN_THROTTLE.email.refuseAt);
    // refused until the oldest counted failure is windowMs old; Retry-After says so, rounded up to the second
    const oldest = events[0]!.createdAt.getTime();
    expect((refused as SignInThrottledError).retryAfterSeconds).toBe(Math.ceil((oldest + SIGN_IN_THROTTLE.windowMs - now) / 1000));
    now = oldest + SIGN_IN_THROTTLE.windowMs; // exactly a window old: no longer counted (only failures after since)
    slept.length = 0;
    expect((await signedIn(indra)).ok).toBe(true);
    expect(slept.length).toBe(1); // nine failures still count: slowed, not refused
    expect(lastFailureAt).toBeLessThan(now);
  });

  it("counts failures since a success only while they are inside the window", async () => {
    const joko = await analyst("joko@sessions.example");
    await signedIn(joko);
    for (let i = 0; i < SIGN_IN_THROTTLE.email.refuseAt - 1; i++) {
      now += 1_000; // each after the success
      await fail(joko.email, client());
    }
    now += SIGN_IN_THROTTLE.windowMs + MIN; // the success and those failures are all older than the window
    slept.length = 0;
    for (let i = 0; i < SIGN_IN_THROTTLE.email.slowAfter; i++) expect((await fail(joko.email, client())).ok).toBe(false);
    expect(slept).toEqual([]); // counted from the window's start, not from the older success: none slowed
    expect((await signedIn(joko)).ok).toBe(true);
  });

  it("refuses until enough failures age out for the attempts running here, when other replicas record more", async () => {
    const kartika = await analyst("kartika@sessions.example");
    const fails = (on = ctx.services.consoleSessions) => on.signIn({ email: kartika.email, password: "not-the-password-123", client: client() });
    for (let i = 0; i < SIGN_IN_THROTTLE.email.refuseAt - 2; i++) {
      now += MIN; // a minute apart, so each failure ages out at its own time
      await fails();
    }
    // an attempt here, slowed and still running, while another replica (same database, its own attempts in
    // flight) records the two failures that bring the email to its limit
    const replica = createConsoleSessionsService({ prisma: ctx.prisma, sealer: ctx.sealer, now: () => new Date(now), sleep: async (ms: number) => (now += ms) });
    const letGo = await heldInFlight(() => fails());
    for (let i = 0; i < 2; i++) {
      now += MIN;
      expect(await fails(replica)).toEqual({ ok: false });
    }
    // ten recorded and one running: the count drops below the limit only once the two oldest age out
    const refused = await ctx.services.consoleSessions.signIn({ email: kartika.email, password: kartika.password, client: client() }).catch((e: unknown) => e);
    const failures = await ctx.prisma.consoleSignInEvent.findMany({ where: { email: kartika.email, kind: "sign_in_failed" }, orderBy: { createdAt: "asc" } });
    expect(failures).toHaveLength(SIGN_IN_THROTTLE.email.refuseAt);
    expect(refused).toBeInstanceOf(SignInThrottledError);
    expect((refused as SignInThrottledError).retryAfterSeconds).toBe(Math.ceil((failures[1]!.createdAt.getTime() + SIGN_IN_THROTTLE.windowMs - now) / 1000));
    expect(await letGo()).toEqual({ ok: false });
  });

  it("throttles an over-long email as the email it is cut to, as it is recorded", async () => {
    const email = `${"z".repeat(400)}@sessions.example`;
    for (let i = 0; i < SIGN_IN_THROTTLE.email.refuseAt; i++) await fail(email, client());
    await expect(fail(email, client())).rejects.toBeInstanceOf(SignInThrottledError);
  });

  it("counts a client's attempts still running, whatever emails they name", async () => {
    const c = client();
    const email = () => `nobody-${++clients}@sessions.example`;
    for (let i = 0; i < SIGN_IN_THROTTLE.client.refuseAt - 1; i++) await fail(email(), c);
    // one failure short of the client's limit: an attempt from it, slowed and still running, counts
    const letGo = await heldInFlight(() => fail(email(), c));
    await expect(fail(email(), c)).rejects.toBeInstanceOf(SignInThrottledError);
    expect(await letGo()).toEqual({ ok: false });
    await expect(fail(email(), c)).rejects.toBeInstanceOf(SignInThrottledError); // and then as a failure
  });

  it("records what it was given, within bounds: the email as normalised and cut, the user agent cut at 300 characters", async () => {
    const c = client(`agent/${"x".repeat(400)}`);
    const email = `${"Y".repeat(400)}@Sessions.Example`;
    expect((await ctx.services.consoleSessions.signIn({ email, password: "whatever-it-is-1", client: c })).ok).toBe(false);
    const [event] = await ctx.prisma.consoleSignInEvent.findMany({ where: { ip: c.ip } });
    expect(event!.userAgent).toBe(c.userAgent!.slice(0, 300));
    expect(event!.email.length).toBeLessThan(email.length);
    expect(email.toLowerCase().startsWith(event!.email)).toBe(true);
    expect(event).toMatchObject({ kind: "sign_in_failed", cause: "unknown_email", analystId: null, orgId: null });
  });
});

describe("the sign-in form's pre-session cookie", () => {
  const form = (cookie?: string) => ctx.services.consoleSessions.loginForm(cookie);
  const validForm = (cookie: string, field: string) => ctx.services.consoleSessions.loginFormValid(cookie, field);

  it("is kept by a new form until it is half an hour old, then replaced", async () => {
    const first = form();
    now += LOGIN_FORM.renewAfterMs - 1;
    expect(form(first.cookie)).toEqual(first);
    now += 1; // exactly renewAfterMs old
    const renewed = form(first.cookie);
    expect(renewed.cookie).not.toBe(first.cookie);
    expect(validForm(renewed.cookie, renewed.field)).toBe(true);
  });

  it("pairs with its field for an hour from its issue, and never before it", async () => {
    const { cookie, field } = form();
    now -= 1; // a cookie that claims to be issued in the future
    expect(validForm(cookie, field)).toBe(false);
    now += 1;
    expect(validForm(cookie, field)).toBe(true);
    now += LOGIN_FORM.maxAgeMs - 1;
    expect(validForm(cookie, field)).toBe(true);
    now += 1; // exactly maxAgeMs old
    expect(validForm(cookie, field)).toBe(false);
  });
});

describe("a session's own checks", () => {
  it("re-hashes a password at sign-in only when its stored hash uses stale parameters", async () => {
    const lina = await analyst("lina@sessions.example");
    const stored = async () => (await ctx.prisma.analyst.findUniqueOrThrow({ where: { id: lina.id } })).passwordHash;
    const before = await stored();
    await signedIn(lina);
    await signedIn(lina);
    expect(await stored()).toBe(before);
  });

  it("ends a session whose analyst no longer belongs to the session's org", async () => {
    const made = await analyst("made@sessions.example");
    const s = await signedIn(made);
    const elsewhere = (await ctx.tenant()).orgId;
    await ctx.prisma.analyst.update({ where: { id: made.id }, data: { orgId: elsewhere } });
    expect(await valid(s.token)).toBe(false);
    expect(await ctx.prisma.consoleSession.count({ where: { id: s.session.sessionId } })).toBe(0);
  });

  it("records a sign-out as the analyst's, with its cause", async () => {
    const nyoman = await analyst("nyoman@sessions.example");
    const s = await signedIn(nyoman);
    const c = client("signing-out/1.0");
    await ctx.services.consoleSessions.signOut(s.session, c);
    const out = await ctx.prisma.consoleSignInEvent.findFirst({ where: { analystId: nyoman.id, kind: "sign_out" } });
    expect(out).toMatchObject({ email: nyoman.email, orgId, cause: "sign_out", ip: c.ip, userAgent: "signing-out/1.0" });
  });
});
