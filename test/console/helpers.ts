// Driving the console through app.inject like a browser would: the sign-in form's pre-session cookie and
// token, then the session cookie, on every request.
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { expect } from "vitest";

export const SESSION_COOKIE = "qe_console_session";
export const LOGIN_COOKIE = "qe_console_login";

export function cookieOf(res: LightMyRequestResponse, name: string) {
  return (res.cookies as { name: string; value: string; [k: string]: unknown }[]).find((c) => c.name === name);
}

export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no csrf field in: ${html.slice(0, 300)}`);
  return m[1]!;
}

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

export interface Browser {
  ip: string;
  session?: string;
  get(url: string): Promise<LightMyRequestResponse>;
  post(url: string, fields: Record<string, string>, extra?: { cookies?: Record<string, string> }): Promise<LightMyRequestResponse>;
  /** GET the form, POST it; returns the POST's response (the session cookie is kept when one is set). */
  signIn(email: string, password: string): Promise<LightMyRequestResponse>;
  signOut(): Promise<LightMyRequestResponse>;
}

export function browser(app: FastifyInstance, ip = "203.0.113.10"): Browser {
  const b: Browser = {
    ip,
    get: (url) => app.inject({ method: "GET", url, remoteAddress: ip, headers: { "user-agent": "console-test" }, cookies: b.session ? { [SESSION_COOKIE]: b.session } : {} }),
    post: (url, fields, extra = {}) =>
      app.inject({
        method: "POST",
        url,
        remoteAddress: ip,
        headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "console-test" },
        cookies: { ...(b.session ? { [SESSION_COOKIE]: b.session } : {}), ...extra.cookies },
        payload: form(fields),
      }),
    async signIn(email, password) {
      const page = await app.inject({ method: "GET", url: "/console/login", remoteAddress: ip });
      expect(page.statusCode).toBe(200);
      const pre = cookieOf(page, LOGIN_COOKIE)!;
      const res = await b.post("/console/login", { email, password, csrf: csrfOf(page.body) }, { cookies: { [LOGIN_COOKIE]: pre.value } });
      const session = cookieOf(res, SESSION_COOKIE);
      if (session?.value) b.session = session.value;
      return res;
    },
    async signOut() {
      const page = await b.get("/console/attempts");
      return b.post("/console/logout", { csrf: csrfOf(page.body) });
    },
  };
  return b;
}

/** A clock the test moves; `sleep` (how sign-in is slowed) advances it and is recorded. */
export function testClock(start = Date.now()) {
  const clock = {
    t: start,
    slept: [] as number[],
    now: () => new Date(clock.t),
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      clock.t += ms;
    },
    advance: (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}
