// The console's sessions and sign-in records with several analysts and sessions at once, through the service
// on a real database and a clock the test moves (test/console/console.test.ts drives the pages, one browser at
// a time): ending, touching or purging one session never reaches another, and the throttle counts exactly
// the failures inside its window.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_SESSION, SIGN_IN_THROTTLE, SignInThrottledError } from "../../src/modules/console-sessions/console-sessions-types.js";
import type { ClientInfo } from "../../src/modules/console-sessions/console-sessions-service.js";
import { createTestContext, type TestContext } from "../helpers/app.js";

const MIN = 60_000;
let now = Date.parse("2026-12-01T08:00:00Z");
const slept: number[] = [];
let ctx: TestContext;
let orgId: string;

beforeAll(async () => {
  ctx = await createTestContext({
    clock: {
      now: () => new Date(now),
      sleep: async (ms: number) => {
        slept.push(ms);
        now += ms;
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

    // past the absolute end, however recently used
    const long = await signedIn(gita);
    for (let used = 0; used < CONSOLE_SESSION.absoluteMs; used += 25 * MIN) {
      now += 25 * MIN;
      await valid(long.token);
    }
    await signedIn(fajar);
    expect(await ctx.prisma.consoleSession.count({ where: { id: long.session.sessionId } })).toBe(0);
  });
});

describe("the throttle's window", () => {
  const fail = (email: string, c: ClientInfo) => ctx.services.consoleSessions.signIn({ email, password: "not-the-password-123", client: c });

  it("counts an email's failures only since its last successful sign-in", async () => {
    const hana = await analyst("hana@sessions.example");
    for (let i = 0; i < SIGN_IN_THROTTLE.email.refuseAt - 1; i++) expect((await fail(hana.email, client())).ok).toBe(false);
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
