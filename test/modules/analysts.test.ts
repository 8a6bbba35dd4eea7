// Compliance analysts as the admin CLI creates and disables them, through the service in this process: the
// email and name rules at their bounds, one spelling of an email across orgs, the password that signs in,
// and disabling (its time kept, every session of theirs ended, nobody else's).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAnalystsService } from "../../src/modules/analysts/analysts-service.js";
import { verifyPassword } from "../../src/modules/analysts/password.js";
import { createTestContext, type Tenant, type TestContext } from "../helpers/app.js";

let ctx: TestContext;
let bank: Tenant;
beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant();
});
afterAll(() => ctx.close());

const T0 = new Date("2026-06-01T08:00:00.000Z");
const analysts = (now = T0) => createAnalystsService({ prisma: ctx.prisma, now: () => now });
let seq = 0;
const email = (local = `analyst${seq++}`) => `${local}@bank.example`;
const count = () => ctx.prisma.analyst.count();

describe("analyst create", () => {
  it("stores the trimmed, lowercased email and the trimmed name; the password shown once is the one that verifies", async () => {
    const out = await analysts().create({ orgId: bank.orgId, email: `  ${email("Siti.Rahma").toUpperCase()} `, name: "  Siti Rahma  " });
    expect(out).toEqual({ id: expect.stringMatching(/^an_[0-9A-Z]{26}$/), orgId: bank.orgId, email: "siti.rahma@bank.example", password: expect.any(String) });
    const row = await ctx.prisma.analyst.findUniqueOrThrow({ where: { id: out.id } });
    expect(row).toMatchObject({ orgId: bank.orgId, email: "siti.rahma@bank.example", name: "Siti Rahma", disabledAt: null });
    expect(await verifyPassword(out.password, row.passwordHash)).toEqual({ ok: true, stale: false });
    expect((await verifyPassword(`${out.password}x`, row.passwordHash)).ok).toBe(false);
    const nameless = await analysts().create({ orgId: bank.orgId, email: email() });
    expect((await ctx.prisma.analyst.findUniqueOrThrow({ where: { id: nameless.id } })).name).toBeNull();
  });

  it("an email of at most 254 characters, a name of 1 to 100: the bounds are accepted, one more is refused, nothing written", async () => {
    const longest = `${"a".repeat(254 - "@bank.example".length)}@bank.example`;
    expect(longest).toHaveLength(254);
    expect((await analysts().create({ orgId: bank.orgId, email: longest, name: "n".repeat(100) })).email).toBe(longest);
    expect((await analysts().create({ orgId: bank.orgId, email: email(), name: "n" })).id).toMatch(/^an_/);
    const before = await count();
    const emailError = { email: ["must be an email address (at most 254 characters)"] };
    const nameError = { name: ["must be 1-100 characters"] };
    for (const [input, fieldErrors] of [
      [{ email: `a${longest}` }, emailError],
      [{ email: "siti" }, emailError],
      [{ email: "siti@bank" }, emailError],
      [{ email: "siti rahma@bank.example" }, emailError],
      [{ email: "<siti>@bank.example" }, emailError],
      [{ email: '"siti"@bank.example' }, emailError],
      [{ email: "siti@@bank.example" }, emailError],
      [{ email: "" }, emailError],
      [{ email: email(), name: "n".repeat(101) }, nameError],
      [{ email: email(), name: "   " }, nameError],
      [{ email: "nope", name: "" }, { ...emailError, ...nameError }],
    ] as const) {
      await expect(analysts().create({ orgId: bank.orgId, ...input }), JSON.stringify(input)).rejects.toMatchObject({
        statusCode: 400,
        code: "validation_failed",
        message: "invalid analyst",
        fieldErrors,
      });
    }
    await expect(analysts().create({ orgId: "org_unknown", email: email() })).rejects.toMatchObject({ statusCode: 404, message: "org not found" });
    expect(await count()).toBe(before);
  });

  it("one analyst per email across every org, whatever its case or spacing: 409 email_taken", async () => {
    const other = await ctx.tenant();
    const first = await analysts().create({ orgId: bank.orgId, email: email("taken") });
    const before = await count();
    for (const spelling of [first.email, " TAKEN@bank.example"]) {
      for (const orgId of [bank.orgId, other.orgId]) {
        await expect(analysts().create({ orgId, email: spelling })).rejects.toMatchObject({
          statusCode: 409,
          code: "email_taken",
          message: "an analyst with this email already exists",
        });
      }
    }
    await analysts(new Date(T0.getTime() + 1)).disable(first.id);
    await expect(analysts().create({ orgId: bank.orgId, email: first.email })).rejects.toMatchObject({ code: "email_taken" }); // disabled still holds it
    expect(await count()).toBe(before);
  });
});

describe("analyst disable", () => {
  const signIn = async (who: { email: string; password: string }) => {
    const res = await ctx.services.consoleSessions.signIn({ email: who.email, password: who.password, client: { ip: `192.0.2.${seq++ % 250}` } });
    expect(res.ok).toBe(true);
  };
  const sessionsOf = (analystId: string) => ctx.prisma.consoleSession.count({ where: { analystId } });

  it("records when, ends every session of that analyst and of no one else; again keeps the first time; an unknown id is a 404", async () => {
    const leaver = await analysts().create({ orgId: bank.orgId, email: email() });
    const stayer = await analysts().create({ orgId: bank.orgId, email: email() });
    await signIn(leaver);
    await signIn(leaver);
    await signIn(stayer);
    expect([await sessionsOf(leaver.id), await sessionsOf(stayer.id)]).toEqual([2, 1]);

    const at = new Date(T0.getTime() + 60_000);
    expect(await analysts(at).disable(leaver.id)).toEqual({ id: leaver.id, disabledAt: at.toISOString() });
    expect((await ctx.prisma.analyst.findUniqueOrThrow({ where: { id: leaver.id } })).disabledAt).toEqual(at);
    expect([await sessionsOf(leaver.id), await sessionsOf(stayer.id)]).toEqual([0, 1]);
    expect(await analysts(new Date(at.getTime() + 1000)).disable(leaver.id)).toEqual({ id: leaver.id, disabledAt: at.toISOString() });
    expect((await ctx.prisma.analyst.findUniqueOrThrow({ where: { id: stayer.id } })).disabledAt).toBeNull();

    await expect(analysts().disable("an_01JUNKNOWN0000000000000000")).rejects.toMatchObject({ statusCode: 404, message: "analyst not found" });
  });
});
