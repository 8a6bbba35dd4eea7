// The compliance console over HTTP (app.inject), every session rule through the real surface: cookie
// attributes, idle and absolute expiry on a controllable clock, CSRF, throttling, disabling, tenancy,
// escaping, headers, and that no photo, raw envelope or template ever reaches a page or a CSV.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openapiYaml } from "../../src/http/openapi.js";
import { newId } from "../../src/ids.js";
import { CONSOLE_CSP } from "../../src/modules/console/console-plugin.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { parseCsv } from "../helpers/csv.js";
import { b64, jpeg } from "../helpers/images.js";
import { LOGIN_COOKIE, SESSION_COOKIE, browser, cookieOf, csrfOf, form, testClock } from "./helpers.js";

const MARKUP_REASON = `<script>alert("xss")</script><img src=x onerror=alert(1)> NIK & "name" mismatch`;
const RAW_MARKER = "RAW-ENVELOPE-SECRET";
const MIN = 60_000;

const clock = testClock();
let ctx: TestContext;
let bank: Tenant;
let other: Tenant;
let analyst: { id: string; email: string; password: string };
let customerA: string;
let customerB: string;
let theirCustomer: string;
let photoB64: string;

beforeAll(async () => {
  ctx = await createTestContext({ clock });
  bank = await ctx.tenant();
  other = await ctx.tenant();
  customerA = await bank.customer("cust-a");
  customerB = await bank.customer();
  theirCustomer = await other.customer();
  photoB64 = b64(await jpeg(200, 240));
  expect((await bank.post("/api/identity/nik/dukcapil", { customerId: customerA, valid: true, photo: photoB64, raw: { marker: RAW_MARKER } })).statusCode).toBe(201);
  expect((await bank.post("/api/identity/nik/dukcapil", { customerId: customerB, valid: false, reason: MARKUP_REASON })).statusCode).toBe(201);
  expect((await other.post("/api/identity/nik/dukcapil", { customerId: theirCustomer, valid: false, reason: "THEIR-DECLINE" })).statusCode).toBe(201);
  // enough older history for several pages of 50
  await ctx.prisma.verification.createMany({
    data: Array.from({ length: 120 }, (_, i) => ({
      id: newId.verification(),
      orgId: bank.orgId,
      customerId: i % 2 ? customerA : customerB,
      method: i % 3 === 0 ? ("nik_format" as const) : ("nik_dukcapil" as const),
      status: i % 4 === 0 ? ("failed" as const) : ("verified" as const),
      score: i % 4 === 0 ? null : 70,
      reason: i % 4 === 0 ? `older decline ${i}` : null,
      createdAt: new Date(Date.parse("2026-11-01T00:00:00Z") + i * MIN),
    })),
  });
  const created = await ctx.services.analysts.create({ orgId: bank.orgId, email: "  Officer@Bank.Example ", name: "Olive Officer" });
  analyst = { id: created.id, email: created.email, password: created.password };
});
afterAll(() => ctx.close());

describe("analysts", () => {
  it("are created with a normalised email, an an_ ULID id and a generated password stored only as a scrypt hash", async () => {
    expect(analyst.email).toBe("officer@bank.example");
    expect(analyst.id).toMatch(/^an_[0-9A-Z]{26}$/);
    expect(analyst.password.length).toBeGreaterThanOrEqual(20);
    const row = await ctx.prisma.analyst.findUniqueOrThrow({ where: { id: analyst.id } });
    expect(row.passwordHash).toMatch(/^scrypt\$15\$8\$3\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(JSON.stringify(row)).not.toContain(analyst.password);
    // unique across orgs; a bad email or unknown org is refused
    await expect(ctx.services.analysts.create({ orgId: other.orgId, email: "OFFICER@bank.example" })).rejects.toThrow(/already exists/);
    await expect(ctx.services.analysts.create({ orgId: bank.orgId, email: "not-an-email" })).rejects.toThrow(/invalid analyst/);
    await expect(ctx.services.analysts.create({ orgId: "org_nope", email: "x@bank.example" })).rejects.toThrow(/org not found/);
    // two analysts never get the same password or salt
    const b = await ctx.services.analysts.create({ orgId: bank.orgId, email: "second@bank.example" });
    expect(b.password).not.toBe(analyst.password);
    const rows = await ctx.prisma.analyst.findMany({ where: { id: { in: [analyst.id, b.id] } } });
    expect(new Set(rows.map((r) => r.passwordHash.split("$")[4])).size).toBe(2);
  });
});

describe("signing in and out", () => {
  it("the form: 200, the console's headers, a pre-session cookie and its token", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/console/login" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    expect(res.body).toMatch(/<form method="post" action="\/console\/login">/);
    expect(res.body).toMatch(/name="email"/);
    expect(res.body).toMatch(/name="password" type="password"/);
    expect(res.body).not.toMatch(/<script/i);
    expect(res.body).not.toMatch(/style="/);
    const pre = cookieOf(res, LOGIN_COOKIE)!;
    expect(pre).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/console" });
    expect(pre.secure).toBeUndefined();
    expect(csrfOf(res.body)).not.toBe(pre.value);
  });

  it("right credentials: 303 to the attempts with an HttpOnly, SameSite=Strict, /console cookie whose hash only is stored; recorded", async () => {
    const b = browser(ctx.app, "198.51.100.7");
    const res = await b.signIn("  OFFICER@bank.example", analyst.password);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/console/attempts");
    const session = cookieOf(res, SESSION_COOKIE)!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/console" });
    expect(session.secure).toBeUndefined();
    expect(session.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookieOf(res, LOGIN_COOKIE)?.value).toBe(""); // the pre-session cookie is cleared
    const rows = await ctx.prisma.consoleSession.findMany({ where: { analystId: analyst.id } });
    const hash = createHash("sha256").update(session.value).digest();
    const mine = rows.find((r) => Buffer.from(r.tokenHash).equals(hash))!;
    expect(mine).toBeDefined();
    expect(JSON.stringify(rows)).not.toContain(session.value);
    expect(mine.expiresAt.getTime() - mine.createdAt.getTime()).toBe(12 * 60 * MIN);
    const page = await b.get("/console/attempts");
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("Olive Officer");
    const events = await ctx.prisma.consoleSignInEvent.findMany({ where: { analystId: analyst.id, kind: "sign_in" } });
    expect(events.at(-1)).toMatchObject({ email: "officer@bank.example", orgId: bank.orgId, ip: "198.51.100.7", userAgent: "console-test" });
  });

  it("Secure cookies when the service runs in production", async () => {
    const prod = await createTestContext({ secureCookies: true });
    try {
      const org = await prod.services.orgs.create({ name: "Prod Bank" });
      const a = await prod.services.analysts.create({ orgId: org.id, email: "prod@bank.example" });
      const res = await browser(prod.app).signIn(a.email, a.password);
      expect(res.statusCode).toBe(303);
      expect(cookieOf(res, SESSION_COOKIE)).toMatchObject({ secure: true, httpOnly: true, sameSite: "Strict", path: "/console" });
      const form = await prod.app.inject({ method: "GET", url: "/console/login" });
      expect(cookieOf(form, LOGIN_COOKIE)).toMatchObject({ secure: true });
    } finally {
      await prod.close();
    }
  });

  it("wrong password, unknown email and a disabled analyst get the same 401 form and message; each is recorded with its cause", async () => {
    const disabled = await ctx.services.analysts.create({ orgId: bank.orgId, email: "gone@bank.example" });
    await ctx.services.analysts.disable(disabled.id);
    const bodies: string[] = [];
    for (const [email, password] of [
      [analyst.email, "wrong-password-123456"],
      ["nobody@bank.example", "whatever-password-1"],
      [disabled.email, disabled.password],
    ] as const) {
      const res = await browser(ctx.app, "192.0.2.50").signIn(email, password);
      expect(res.statusCode, email).toBe(401);
      expect(cookieOf(res, SESSION_COOKIE)).toBeUndefined();
      expect(res.body).toContain("The email or password is not correct.");
      bodies.push(res.body.replace(/value="[^"]*"/g, "").replace(/req_[0-9A-Z]+/g, ""));
    }
    // apart from the email typed back into the form, the three answers are the same
    expect(new Set(bodies.map((b) => b.replace(/(nobody|gone|officer)@bank\.example/, "")))).toHaveLength(1);
    const causes = await ctx.prisma.consoleSignInEvent.findMany({ where: { ip: "192.0.2.50" }, orderBy: { createdAt: "asc" } });
    expect(causes.map((e) => [e.kind, e.email, e.cause])).toEqual([
      ["sign_in_failed", analyst.email, "wrong_password"],
      ["sign_in_failed", "nobody@bank.example", "unknown_email"],
      ["sign_in_failed", disabled.email, "disabled"],
    ]);
  });

  it("sign-out: 303 to the form, the session deleted and recorded; the old cookie opens nothing", async () => {
    const b = browser(ctx.app, "198.51.100.8");
    await b.signIn(analyst.email, analyst.password);
    const page = await b.get("/console/attempts");
    expect(page.body).toMatch(/<form method="post" action="\/console\/logout"/);
    const before = await ctx.prisma.consoleSession.count();
    const out = await b.post("/console/logout", { csrf: csrfOf(page.body) });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe("/console/login");
    expect(cookieOf(out, SESSION_COOKIE)?.value).toBe("");
    expect(await ctx.prisma.consoleSession.count()).toBe(before - 1);
    const after = await b.get("/console/attempts");
    expect(after.statusCode).toBe(303);
    expect(after.headers.location).toBe("/console/login");
    const last = await ctx.prisma.consoleSignInEvent.findFirst({ where: { ip: "198.51.100.8" }, orderBy: { createdAt: "desc" } });
    expect(last).toMatchObject({ kind: "sign_out", analystId: analyst.id, email: analyst.email });
  });

  it("the sign-in records are immutable: UPDATE, DELETE and TRUNCATE are refused", async () => {
    const event = await ctx.prisma.consoleSignInEvent.findFirstOrThrow({ where: { kind: "sign_in" } });
    for (const sql of [
      `UPDATE console_sign_in_events SET kind = 'sign_out' WHERE id = '${event.id}'`,
      `UPDATE console_sign_in_events SET ip = '127.0.0.1'`,
      `DELETE FROM console_sign_in_events WHERE id = '${event.id}'`,
      "TRUNCATE console_sign_in_events",
    ]) {
      await expect(ctx.prisma.$executeRawUnsafe(sql), sql).rejects.toThrow(/console_sign_in_events rows are immutable/);
    }
    expect(await ctx.prisma.consoleSignInEvent.findUniqueOrThrow({ where: { id: event.id } })).toEqual(event);
  });

  it("every console page without a valid session is a 303 to the sign-in form", async () => {
    const anon = browser(ctx.app);
    for (const url of ["/console", "/console/", "/console/attempts", "/console/attempts?status=failed", "/console/attempts.csv", `/console/customers/${customerA}`]) {
      const res = await anon.get(url);
      expect(res.statusCode, url).toBe(303);
      expect(res.headers.location, url).toBe("/console/login");
    }
    anon.session = "A".repeat(43); // a well-formed value no session has
    expect((await anon.get("/console/attempts")).statusCode).toBe(303);
  });
});

describe("anti-CSRF", () => {
  it("a sign-in without the form's token, with another form's token, or without the pre-session cookie is a 403 and signs no one in", async () => {
    const page = await ctx.app.inject({ method: "GET", url: "/console/login" });
    const pre = cookieOf(page, LOGIN_COOKIE)!.value;
    const otherPage = await ctx.app.inject({ method: "GET", url: "/console/login" });
    const b = browser(ctx.app, "192.0.2.77");
    const cases: { fields: Record<string, string>; cookies: Record<string, string> }[] = [
      { fields: { email: analyst.email, password: analyst.password }, cookies: { [LOGIN_COOKIE]: pre } },
      { fields: { email: analyst.email, password: analyst.password, csrf: csrfOf(otherPage.body) }, cookies: { [LOGIN_COOKIE]: pre } },
      { fields: { email: analyst.email, password: analyst.password, csrf: csrfOf(page.body) }, cookies: {} },
      { fields: { email: analyst.email, password: analyst.password, csrf: csrfOf(page.body) }, cookies: { [LOGIN_COOKIE]: `${Date.now()}.${"x".repeat(22)}` } },
    ];
    for (const c of cases) {
      const res = await b.post("/console/login", c.fields, { cookies: c.cookies });
      expect(res.statusCode).toBe(403);
      expect(cookieOf(res, SESSION_COOKIE)).toBeUndefined();
      expect(res.body).toContain("This sign-in form has expired");
    }
    // a form older than an hour is stale too
    clock.advance(61 * MIN);
    const stale = await b.post("/console/login", { email: analyst.email, password: analyst.password, csrf: csrfOf(page.body) }, { cookies: { [LOGIN_COOKIE]: pre } });
    expect(stale.statusCode).toBe(403);
  });

  it("a sign-out without the session's token is a 403 and the session stays", async () => {
    const b = browser(ctx.app, "192.0.2.78");
    await b.signIn(analyst.email, analyst.password);
    const otherSession = browser(ctx.app, "192.0.2.79");
    await otherSession.signIn(analyst.email, analyst.password);
    const foreignToken = csrfOf((await otherSession.get("/console/attempts")).body);
    for (const fields of [{}, { csrf: "nope" }, { csrf: foreignToken }] as Record<string, string>[]) {
      const res = await b.post("/console/logout", fields);
      expect(res.statusCode).toBe(403);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    }
    expect((await b.get("/console/attempts")).statusCode).toBe(200);
  });
});

describe("session lifetime (controllable clock)", () => {
  it("ends after 30 minutes without a request", async () => {
    const b = browser(ctx.app, "192.0.2.80");
    await b.signIn(analyst.email, analyst.password);
    clock.advance(29 * MIN);
    expect((await b.get("/console/attempts")).statusCode).toBe(200);
    clock.advance(29 * MIN); // 58 min after sign-in, 29 after the last request
    expect((await b.get("/console/attempts")).statusCode).toBe(200);
    clock.advance(30 * MIN);
    const res = await b.get("/console/attempts");
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/console/login");
    expect(cookieOf(res, SESSION_COOKIE)?.value).toBe(""); // cleared
  });

  it("ends 12 hours after sign-in however active", async () => {
    const b = browser(ctx.app, "192.0.2.81");
    await b.signIn(analyst.email, analyst.password);
    for (let elapsed = 0; elapsed < 12 * 60 - 20; elapsed += 20) {
      clock.advance(20 * MIN);
      expect((await b.get("/console/attempts")).statusCode).toBe(200);
    }
    clock.advance(20 * MIN); // 12 h
    expect((await b.get("/console/attempts")).statusCode).toBe(303);
  });

  it("disabling the analyst ends every session of theirs at once", async () => {
    const victim = await ctx.services.analysts.create({ orgId: bank.orgId, email: "leaver@bank.example" });
    const one = browser(ctx.app, "192.0.2.82");
    const two = browser(ctx.app, "192.0.2.83");
    await one.signIn(victim.email, victim.password);
    await two.signIn(victim.email, victim.password);
    expect((await one.get("/console/attempts")).statusCode).toBe(200);
    const disabled = await ctx.services.analysts.disable(victim.id);
    expect(disabled).toEqual({ id: victim.id, disabledAt: expect.any(String) });
    expect(await ctx.prisma.consoleSession.count({ where: { analystId: victim.id } })).toBe(0);
    expect((await one.get("/console/attempts")).statusCode).toBe(303);
    expect((await two.get("/console/attempts")).statusCode).toBe(303);
    expect((await browser(ctx.app, "192.0.2.84").signIn(victim.email, victim.password)).statusCode).toBe(401);
    expect(await ctx.services.analysts.disable(victim.id)).toEqual(disabled); // again: unchanged
  });
});

describe("sign-in throttling", () => {
  it("per email: slowed from the 3rd failure (1 s, 2 s, 4 s, … at most 8 s), refused with 429 at 10 for 15 minutes, even with the right password", async () => {
    const target = await ctx.services.analysts.create({ orgId: bank.orgId, email: "target@bank.example" });
    const attempt = (ip: string, password = "wrong-password-xyz") => browser(ctx.app, ip).signIn(target.email, password);
    clock.slept.length = 0;
    for (let i = 0; i < 10; i++) expect((await attempt(`10.0.${i}.1`)).statusCode).toBe(401); // a different client each time
    expect(clock.slept).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000]);
    const refused = await attempt("10.0.99.1", target.password);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(14 * 60);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(15 * 60);
    expect(refused.body).toContain("Too many failed sign-ins");
    expect(cookieOf(refused, SESSION_COOKIE)).toBeUndefined();
    clock.advance(15 * MIN + 1000);
    const ok = await attempt("10.0.99.1", target.password);
    expect(ok.statusCode).toBe(303);
    // a success resets the email's count
    clock.slept.length = 0;
    expect((await attempt("10.0.99.2")).statusCode).toBe(401);
    expect(clock.slept).toEqual([]);
  });

  it("per client: one address trying many emails is slowed from 10 failures and refused at 30; other clients are not", async () => {
    const ip = "192.0.2.200";
    clock.slept.length = 0;
    for (let i = 0; i < 30; i++) expect((await browser(ctx.app, ip).signIn(`spray${i}@bank.example`, "password-guess-1")).statusCode).toBe(401);
    expect(clock.slept.length).toBe(20);
    expect(clock.slept.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
    expect((await browser(ctx.app, ip).signIn(analyst.email, analyst.password)).statusCode).toBe(429);
    expect((await browser(ctx.app, "192.0.2.201").signIn(analyst.email, analyst.password)).statusCode).toBe(303);
    clock.advance(16 * MIN);
  });

  it("parallel guesses cannot slip past the limit: attempts in flight count", async () => {
    const target = await ctx.services.analysts.create({ orgId: bank.orgId, email: "parallel@bank.example" });
    const results = await Promise.all(Array.from({ length: 14 }, (_, i) => browser(ctx.app, `10.9.${i}.1`).signIn(target.email, "guess-guess-guess")));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(4);
    clock.advance(16 * MIN);
  });
});

describe("pages", () => {
  let b: ReturnType<typeof browser>;
  beforeAll(async () => {
    clock.advance(16 * MIN);
    b = browser(ctx.app, "198.51.100.99");
    expect((await b.signIn(analyst.email, analyst.password)).statusCode).toBe(303);
  });

  it("attempts: the org's attempts newest first with the API's filters, customer links, key prefix and an export link for the same filters", async () => {
    const res = await b.get("/console/attempts?method=nik_dukcapil&status=failed");
    expect(res.statusCode).toBe(200);
    const api = await ctx.app.inject({ method: "GET", url: "/api/identity/attempts?method=nik_dukcapil&status=failed&limit=50", headers: bank.auth });
    const want = api.json().data as { id: string; customerId: string }[];
    const shown = [...res.body.matchAll(/<td class="id">(ver_[0-9A-Z]+)<\/td>/g)].map((m) => m[1]);
    expect(shown).toEqual(want.map((a) => a.id));
    expect(res.body).toContain(`<a href="/console/customers/${customerB}">${customerB}</a>`);
    expect(res.body).toContain('href="/console/attempts.csv?method=nik_dukcapil&amp;status=failed"');
    expect(res.body).toContain('<option value="nik_dukcapil" selected>');
    const prefix = (await ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: bank.keyId } })).prefix;
    expect(res.body).toContain(`<td class="id">${prefix}</td>`);
    expect(res.body).not.toContain("THEIR-DECLINE");
  });

  it("pages by the API's cursor: every row once, 50 a page", async () => {
    const seen: string[] = [];
    let url: string | undefined = "/console/attempts";
    while (url) {
      const res = await b.get(url);
      expect(res.statusCode).toBe(200);
      seen.push(...[...res.body.matchAll(/<td class="id">(ver_[0-9A-Z]+)<\/td>/g)].map((m) => m[1]!));
      url = /<a href="([^"]+)" rel="next">/.exec(res.body)?.[1]?.replaceAll("&amp;", "&");
    }
    const all = await ctx.prisma.verification.findMany({ where: { orgId: bank.orgId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    expect(seen).toEqual(all.map((r) => r.id));
    expect(seen.length).toBe(122);
  });

  it("a bank's reason is shown as text, never as markup, in the table and on the customer page", async () => {
    const escaped = "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; NIK &amp; &quot;name&quot; mismatch";
    for (const url of ["/console/attempts?status=failed", `/console/customers/${customerB}`]) {
      const res = await b.get(url);
      expect(res.statusCode).toBe(200);
      expect(res.body, url).toContain(escaped);
      expect(res.body, url).not.toContain("<script>");
      expect(res.body, url).not.toContain("<img src=x");
    }
  });

  it("customer: tier, eligible tier, every verification with its reason, tier history, face references", async () => {
    const res = await b.get(`/console/customers/${customerA}`);
    expect(res.statusCode).toBe(200);
    const detail = (await ctx.app.inject({ method: "GET", url: `/api/identity/kyc/${customerA}`, headers: bank.auth })).json();
    expect(res.body).toContain(`<dd class="tier">${detail.customer.kycLevel}</dd>`);
    expect(res.body).toContain(`<dd class="tier">${detail.eligible}</dd>`);
    for (const v of detail.verifications) expect(res.body).toContain(v.id);
    for (const e of detail.history) expect(res.body).toContain(e.reason);
    expect(detail.references).toHaveLength(1);
    const ref = detail.references[0];
    expect(res.body).toContain(ref.id);
    expect(res.body).toMatch(/<th>Source<\/th><th>Template<\/th><th>Stub cause<\/th><th>Model<\/th><th>Enrolled<\/th><th>Superseded<\/th>/);
    expect(res.body).toContain("stub (no template)");
    expect(res.body).toContain("engine_off");
  });

  it("another org's customer, an unknown id and a malformed id are the console's own 404 page", async () => {
    for (const id of [theirCustomer, "cunknown000000000000000000", "not a cuid!", "%3Cscript%3E"]) {
      const res = await b.get(`/console/customers/${id}`);
      expect(res.statusCode, id).toBe(404);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.body).toContain("There is no such customer in your organisation.");
      expect(res.body).not.toContain("THEIR-DECLINE");
    }
    const unknownPage = await b.get("/console/nope");
    expect(unknownPage.statusCode).toBe(404);
    expect(unknownPage.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(unknownPage.headers["content-security-policy"]).toBe(CONSOLE_CSP);
  });

  it("bad filter values are a readable 400 page with the form, never a 500 or JSON", async () => {
    for (const [query, field] of [
      ["method=nope", "method"],
      ["from=last+week", "from"],
      ["from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"],
      ["customerId=%3Cb%3Ex", "customerId"],
      ["cursor=bogus", "cursor"],
      ["bogus=1", "bogus"],
      ["status=failed&status=verified", "status"],
    ] as const) {
      const res = await b.get(`/console/attempts?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.body).toContain("These filters cannot be applied");
      expect(res.body, query).toContain(`<strong>${field}</strong>`);
      expect(res.body).toContain('<form method="get" action="/console/attempts"');
    }
    expect((await b.get("/console/attempts?customerId=%3Cb%3Ex")).body).toContain('value="&lt;b&gt;x"');
    const csv = await b.get("/console/attempts.csv?from=yesterday");
    expect(csv.statusCode).toBe(400);
    expect(csv.headers["content-type"]).toBe("text/html; charset=utf-8");
  });

  it("empty filter fields mean no filter (what the form sends)", async () => {
    const res = await b.get("/console/attempts?method=&status=failed&customerId=&from=&to=");
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('href="/console/attempts.csv?status=failed"');
  });

  it("the CSV export: the same rows as the API's export for the same filters, as an attachment", async () => {
    const res = await b.get("/console/attempts.csv?status=failed");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(res.headers["content-disposition"]).toMatch(/^attachment; filename="attempts-.*\.csv"$/);
    const api = await ctx.app.inject({ method: "GET", url: "/api/identity/attempts/export?status=failed", headers: bank.auth });
    expect(parseCsv(res.body)).toEqual(parseCsv(api.body));
    expect(parseCsv(res.body)[0]).toEqual(["id", "customerId", "method", "status", "score", "reason", "createdAt", "apiKeyPrefix"]);
    expect(res.body).toContain(`"<script>alert(""xss"")</script><img src=x onerror=alert(1)> NIK & ""name"" mismatch"`);
  });

  it("no photo, raw envelope, template or secret in any page or the CSV", async () => {
    const bodies = await Promise.all(
      ["/console/attempts", `/console/customers/${customerA}`, `/console/customers/${customerB}`, "/console/attempts.csv"].map(async (u) => (await b.get(u)).body),
    );
    for (const body of bodies) {
      expect(body).not.toContain(RAW_MARKER);
      expect(body).not.toContain(photoB64.slice(0, 40));
      expect(body).not.toContain(bank.key);
      expect(body).not.toContain(analyst.password);
      expect(body).not.toMatch(/photo_?sealed|template_?sealed|raw_?sealed|passwordHash|scrypt\$/i);
    }
  });

  it("the stylesheet is the service's own file; a key in the URL is still refused", async () => {
    const css = await b.get("/console/static/console.css");
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.headers["cache-control"]).toBe("public, max-age=3600");
    const page = await b.get("/console/attempts");
    expect(page.body).toContain('<link rel="stylesheet" href="/console/static/console.css">');
    expect(page.body).not.toMatch(/https?:\/\//); // nothing from elsewhere
    const keyed = await b.get(`/console/attempts?api_key=${bank.key}`);
    expect(keyed.statusCode).toBe(400);
    expect(keyed.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(keyed.body).not.toContain(bank.key);
  });

  it("forms: only application/x-www-form-urlencoded, at most 8 KiB, no field twice", async () => {
    const json = await ctx.app.inject({ method: "POST", url: "/console/login", headers: { "content-type": "application/json" }, payload: "{}" });
    expect(json.statusCode).toBe(415);
    expect(json.headers["content-type"]).toBe("text/html; charset=utf-8");
    const big = await ctx.app.inject({ method: "POST", url: "/console/login", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: form({ email: "x".repeat(9000) }) });
    expect(big.statusCode).toBe(413);
    const twice = await ctx.app.inject({ method: "POST", url: "/console/login", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: "email=a&email=b" });
    expect(twice.statusCode).toBe(400);
    expect(twice.headers["content-type"]).toBe("text/html; charset=utf-8");
  });

  it("console routes are not in the OpenAPI document; the API keeps its JSON errors and strict CSP", () => {
    expect(openapiYaml(ctx.app)).not.toContain("/console");
    expect(ctx.app.printRoutes({ commonPrefix: false })).toContain("console");
  });

  it("the API is untouched by the console's scope", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/api/nope" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: "route_not_found" });
    expect(res.headers["content-security-policy"]).toBe("default-src 'none';frame-ancestors 'none'");
    const form = await ctx.app.inject({ method: "POST", url: "/api/customers", headers: { ...bank.auth, "content-type": "application/x-www-form-urlencoded" }, payload: "externalRef=x" });
    expect(form.statusCode).toBe(415);
  });
});
