// The console in a real browser: Debian's Chromium driven by playwright-core (no browser download), against
// the real app listening on a real port. Signs in, filters by method and status through the form, opens a
// customer whose declined verdict's reason holds markup (asserted as text in the DOM), downloads the export
// from the page's link and parses it, signs out, and checks that the back button shows no data. Screenshots
// of each page land in test-results/console/ (git-ignored). Skipped, saying so, where /usr/bin/chromium is
// missing (.ci/run installs it).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { parseCsv } from "../helpers/csv.js";
import { testDbKind } from "../helpers/db.js";
import { b64, jpeg } from "../helpers/images.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.resolve(import.meta.dirname, "../../test-results/console");
const MARKUP_REASON = `<img src=x onerror="window.__pwned=1"><b>NIK</b> not found & <i>name</i> "mismatch"`;
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`console browser test SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does)`);

let ctx: TestContext;
let bank: Tenant;
let base: string;
let browser: BrowserContext;
let page: Page;
let profile: string;
let declinedCustomer: string;
let analyst: { email: string; password: string };

const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${testDbKind}-${name}.png`), fullPage: true });

describe.runIf(hasChromium)("the console in Chromium", () => {
  beforeAll(async () => {
    ctx = await createTestContext();
    await ctx.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    bank = await ctx.tenant();
    const org = await ctx.services.orgs.get(bank.orgId);
    expect(org.name).toBeTruthy();
    const photo = b64(await jpeg(200, 240));
    declinedCustomer = await bank.customer("cust-declined");
    const verifiedCustomer = await bank.customer("cust-verified");
    expect((await bank.post("/api/identity/nik/dukcapil", { customerId: verifiedCustomer, valid: true, photo, raw: { marker: "RAW-IN-BROWSER" } })).statusCode).toBe(201);
    for (let i = 0; i < 3; i++) {
      const c = await bank.customer();
      expect((await bank.post("/api/identity/nik/dukcapil", { customerId: c, valid: false, reason: `NIK not found in central registry (#${i})` })).statusCode).toBe(201);
    }
    expect((await bank.post("/api/identity/nik/dukcapil", { customerId: declinedCustomer, valid: false, reason: MARKUP_REASON })).statusCode).toBe(201);
    expect((await bank.post("/api/identity/nik/dukcapil", { customerId: declinedCustomer, valid: true, photo, raw: { marker: "RAW-IN-BROWSER" } })).statusCode).toBe(201);
    const created = await ctx.services.analysts.create({ orgId: bank.orgId, email: "browser@bank.example", name: "Bea Browser" });
    analyst = { email: created.email, password: created.password };

    await mkdir(SHOTS, { recursive: true });
    profile = await mkdtemp(path.join(os.tmpdir(), "qe-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1366, height: 768 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await ctx?.close();
  });

  it("signs in, filters, opens a customer, exports, signs out; the back button shows no data", async () => {
    // sign in
    await page.goto(`${base}/console/attempts`);
    expect(new URL(page.url()).pathname).toBe("/console/login");
    await shot("01-login");
    await page.fill("#email", "wrong@bank.example");
    await page.fill("#password", "not-the-password");
    await page.click("button[type=submit]");
    await expect.poll(() => page.textContent(".alert")).toContain("The email or password is not correct.");
    await shot("02-login-failed");
    await page.fill("#email", analyst.email);
    await page.fill("#password", analyst.password);
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/console/attempts`);
    expect(await page.textContent(".topbar .analyst")).toBe("Bea Browser");
    await shot("03-attempts");

    // filter through the form
    await page.selectOption("#method", "nik_dukcapil");
    await page.selectOption("#status", "failed");
    await page.click(".filters button[type=submit]");
    await page.waitForURL(/\/console\/attempts\?/);
    const url = new URL(page.url());
    expect(url.searchParams.get("method")).toBe("nik_dukcapil");
    expect(url.searchParams.get("status")).toBe("failed");
    const rows = await page.$$eval("table.attempts tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent!.trim())));
    expect(rows).toHaveLength(4);
    for (const r of rows) expect([r[2], r[3]]).toEqual(["nik_dukcapil", "failed"]);
    // the markup is text in the table: no element was made from it, no handler ran
    expect(rows.map((r) => r[5])).toContain(MARKUP_REASON);
    expect(await page.locator("td.reason *").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await shot("04-attempts-filtered");

    // the customer whose decline carries markup
    await page.click(`a[href="/console/customers/${declinedCustomer}"]`);
    await page.waitForURL(`${base}/console/customers/${declinedCustomer}`);
    const reasons = await page.$$eval("td.reason", (tds) => tds.map((td) => td.textContent));
    expect(reasons).toContain(MARKUP_REASON);
    expect(await page.locator("td.reason *").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    const tiers = await page.$$eval(".summary dd.tier", (dds) => dds.map((d) => d.textContent));
    expect(tiers).toEqual(["standard", "standard"]);
    expect(await page.locator("h2", { hasText: "Face references" }).count()).toBe(1);
    expect(await page.locator("img").count()).toBe(0); // never a photo
    await shot("05-customer");

    // the export link of the filtered listing
    await page.goBack();
    await page.waitForURL(/status=failed/);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("a.button:has-text('Export CSV')")]);
    expect(download.suggestedFilename()).toMatch(/^attempts-org_[0-9A-Z]{26}-\d{8}T\d{6}Z\.csv$/);
    const csv = parseCsv(await readFile((await download.path())!, "utf8"));
    expect(csv[0]).toEqual(["id", "customerId", "method", "status", "score", "reason", "createdAt", "apiKeyPrefix"]);
    expect(csv.slice(1).map((r) => r[0])).toEqual(rows.map((r) => r[0]));
    expect(csv.slice(1).map((r) => r[5])).toContain(MARKUP_REASON);
    expect(csv.flat().join()).not.toContain("RAW-IN-BROWSER");

    // sign out; back shows nothing
    await page.click(".signout button");
    await page.waitForURL(`${base}/console/login`);
    await shot("06-signed-out");
    await page.goBack();
    await page.waitForLoadState("load");
    expect(new URL(page.url()).pathname).toBe("/console/login");
    const html = await page.content();
    expect(html).not.toContain(declinedCustomer);
    expect(html).not.toContain("NIK not found");
    await shot("07-back-after-sign-out");
    await page.goto(`${base}/console/customers/${declinedCustomer}`);
    expect(new URL(page.url()).pathname).toBe("/console/login");
  }, 120_000);
});
