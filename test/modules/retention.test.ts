// Retention windows and the sweep, on a real database with a controllable clock: exactly what is past each
// org's window is erased (raw envelopes and face-match selfies, never enrolment photos), nothing younger, no
// other org's; batched and resumable; one sweep at a time through the database lease; each org's run on record.
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdminCommand, UsageError } from "../../src/cli/commands.js";
import { newId } from "../../src/ids.js";
import { faceMatchSelfiesDal } from "../../src/modules/face-match/face-match-dal.js";
import { leaseDal } from "../../src/modules/retention/lease-dal.js";
import { createRetentionService, RETENTION_LEASE, SweepBusyError } from "../../src/modules/retention/retention-service.js";
import { verificationsDal } from "../../src/modules/verifications/verifications-dal.js";
import { createTestContext, type Tenant, type TestContext } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";

const INGEST = "/api/identity/nik/dukcapil";
const DAY = 86_400_000;
let ctx: TestContext;
let photo: string;

beforeAll(async () => {
  ctx = await createTestContext();
  photo = b64(await jpeg(200, 240));
});
afterAll(() => ctx.close());

const limits = { "identity.nik.dukcapil": 10_000, "identity.kyc.read": 10_000 };
const admin = (argv: string[]) => runAdminCommand(ctx.services, argv);

/** A verified verdict with a raw envelope (and its enrolment); returns the verification id. */
async function verdict(t: Tenant, customerId: string): Promise<string> {
  const res = await t.post(INGEST, { customerId, valid: true, photo, raw: { nik: "3171", seq: Math.random() } });
  expect(res.statusCode).toBe(201);
  await sleep(3); // distinct created_at
  return res.json().verification.id;
}

/** A face match's sealed selfie, written through the data layer as the face match writes it (the engine is off here). */
async function selfie(t: Tenant, customerId: string): Promise<string> {
  const id = newId.verification();
  const at = new Date();
  const reference = (await ctx.prisma.faceEnrolment.findFirstOrThrow({ where: { customerId } })).id;
  await verificationsDal.create(ctx.prisma, {
    ...{ id, orgId: t.orgId, customerId, method: "face_match", status: "verified", score: 80, reason: null, rawSealed: null },
    ...{ apiKeyId: t.keyId, requestId: null, createdAt: at, referenceEnrolmentId: reference, matchModel: "test/1", matchThreshold: 40 },
  });
  const selfieSealed = new Uint8Array(ctx.sealer.seal(Buffer.from(`selfie ${id}`), { purpose: "face_match.selfie", rowId: id }));
  await faceMatchSelfiesDal.create(ctx.prisma, { verificationId: id, orgId: t.orgId, customerId, selfieSealed, mediaType: "image/jpeg", width: 64, height: 64, createdAt: at });
  await sleep(3);
  return id;
}

const rawOf = (id: string) => ctx.prisma.verification.findUniqueOrThrow({ where: { id }, select: { rawSealed: true, rawErasedAt: true, createdAt: true } });
const selfieOf = (id: string) => ctx.prisma.faceMatchSelfie.findUniqueOrThrow({ where: { verificationId: id }, select: { selfieSealed: true, erasedAt: true, createdAt: true } });
const sweeper = (now: Date, batchSize?: number) => createRetentionService({ prisma: ctx.prisma, now: () => now, batchSize });

describe("org set --retain-raw-days / --retain-selfies-days", () => {
  it("shows the windows in the org JSON; off goes back to kept-until-erased; bad values are usage errors", async () => {
    const t = await ctx.tenant();
    const set = (...flags: string[]) => admin(["org", "set", "--org", t.orgId, ...flags]);
    expect(await set("--dukcapil", "on")).toMatchObject({ retainRawDays: null, retainSelfiesDays: null });
    expect(await set("--retain-raw-days", "30")).toMatchObject({ id: t.orgId, retainRawDays: 30, retainSelfiesDays: null });
    expect(await set("--retain-selfies-days", "7")).toMatchObject({ retainRawDays: 30, retainSelfiesDays: 7 });
    expect(await set("--retain-raw-days", "off")).toMatchObject({ retainRawDays: null, retainSelfiesDays: 7 });
    for (const bad of ["0", "-1", "3651", "1.5", "30d", "", "never"]) {
      await expect(set("--retain-raw-days", bad), bad).rejects.toThrow(UsageError);
      await expect(set("--retain-selfies-days", bad), bad).rejects.toThrow(/--retain-selfies-days/);
    }
    await expect(set("--retain-selfies-days", "0")).rejects.toThrow("--retain-selfies-days takes a whole number of days from 1 to 3650, or off");
    expect(await set("--retain-raw-days", "3650", "--retain-selfies-days", "1")).toMatchObject({ retainRawDays: 3650, retainSelfiesDays: 1 });
    await expect(admin(["org", "set", "--org", "org_nope", "--retain-raw-days", "5"])).rejects.toThrow(/org not found/);
  });
});

describe("the retention sweep", () => {
  it("raw envelopes: erases exactly what is past the window, to the millisecond, nothing younger, no photo, no selfie, no other org's", async () => {
    const bank = await ctx.tenant({ limits });
    const keepAll = await ctx.tenant({ limits }); // no windows: kept until erased
    await admin(["org", "set", "--org", bank.orgId, "--retain-raw-days", "30"]);
    const c = await bank.customer();
    const [oldRaw, youngRaw] = [await verdict(bank, c), await verdict(bank, c)];
    const oldSelfie = await selfie(bank, c); // selfies have no window in this org
    const theirs = await keepAll.customer();
    const [theirRaw, theirSelfie] = [await verdict(keepAll, theirs), await selfie(keepAll, theirs)];
    const enrolments = () => ctx.prisma.faceEnrolment.findMany({ where: { orgId: { in: [bank.orgId, keepAll.orgId] } }, orderBy: { id: "asc" } });
    const enrolmentsBefore = await enrolments();
    const before = { young: await rawOf(youngRaw), selfie: await selfieOf(oldSelfie), theirRaw: await rawOf(theirRaw), theirSelfie: await selfieOf(theirSelfie) };
    const t0 = (await rawOf(oldRaw)).createdAt.getTime();
    const records = () => ctx.prisma.erasureRecord.findMany({ where: { orgId: bank.orgId }, orderBy: { id: "asc" } });

    // exactly 30 days old: not past the window yet
    expect(await sweeper(new Date(t0 + 30 * DAY)).sweep()).toMatchObject({ erased: { selfies: 0, raw: 0 }, complete: true });
    expect((await rawOf(oldRaw)).rawSealed).not.toBeNull();
    expect(await records()).toEqual([]); // a run that erased nothing writes no record

    // one millisecond later: the oldest goes, the next one (3+ ms younger) stays
    const now = new Date(t0 + 30 * DAY + 1);
    const result = await sweeper(now).sweep();
    expect(result.erased).toEqual({ selfies: 0, raw: 1 });
    expect(result.complete).toBe(true);
    expect(await rawOf(oldRaw)).toEqual({ rawSealed: null, rawErasedAt: now, createdAt: new Date(t0) });
    expect(await rawOf(youngRaw)).toEqual(before.young);
    expect(await selfieOf(oldSelfie)).toEqual(before.selfie);
    expect(await rawOf(theirRaw)).toEqual(before.theirRaw); // older than the window, but their org keeps everything
    expect(await selfieOf(theirSelfie)).toEqual(before.theirSelfie);
    expect(await enrolments()).toEqual(enrolmentsBefore); // photos are the reference: never swept
    expect(await records()).toEqual([
      {
        id: expect.stringMatching(/^era_/),
        orgId: bank.orgId,
        customerId: null,
        trigger: "retention",
        actor: "retention",
        reason: "retention: raw envelopes older than 30 days",
        photos: 0,
        templates: 0,
        selfies: 0,
        raw: 1,
        createdAt: now,
      },
    ]);
    // the erasure log shows it; audit show says when it was erased
    expect((await admin(["erasure", "log", "--limit", "1"])) as object).toMatchObject({ data: [{ orgId: bank.orgId, customerId: null, actor: "retention", erased: { raw: 1, selfies: 0 } }] });
    await expect(admin(["audit", "show", "--verification", oldRaw, "--reason", "check", "--actor", "a"])).rejects.toThrow(`erased at ${now.toISOString()}`);
    // and the sweep is idempotent
    expect((await sweeper(now).sweep()).erased).toEqual({ selfies: 0, raw: 0 });
  });

  it("selfies: exactly past the window, nothing younger; the verification itself stays", async () => {
    const bank = await ctx.tenant({ limits });
    await admin(["org", "set", "--org", bank.orgId, "--retain-selfies-days", "7"]);
    const c = await bank.customer();
    const raw = await verdict(bank, c);
    const [oldSelfie, youngSelfie] = [await selfie(bank, c), await selfie(bank, c)];
    const t0 = (await selfieOf(oldSelfie)).createdAt.getTime();
    const young = await selfieOf(youngSelfie);
    const verification = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: oldSelfie } });

    expect((await sweeper(new Date(t0 + 7 * DAY)).sweep({ orgId: bank.orgId })).erased).toEqual({ selfies: 0, raw: 0 });
    const now = new Date(t0 + 7 * DAY + 1);
    expect(await sweeper(now).sweep({ orgId: bank.orgId })).toMatchObject({ erased: { selfies: 1, raw: 0 }, complete: true });
    expect(await selfieOf(oldSelfie)).toEqual({ selfieSealed: null, erasedAt: now, createdAt: new Date(t0) });
    expect(await selfieOf(youngSelfie)).toEqual(young);
    expect(await ctx.prisma.verification.findUniqueOrThrow({ where: { id: oldSelfie } })).toEqual(verification);
    expect((await rawOf(raw)).rawSealed).not.toBeNull(); // raw has no window here, however old
    expect((await sweeper(new Date(t0 + 10_000 * DAY)).sweep({ orgId: bank.orgId })).erased).toEqual({ selfies: 1, raw: 0 });
  });

  it("--org sweeps that org only; an unknown org is refused", async () => {
    const [a, b] = [await ctx.tenant({ limits }), await ctx.tenant({ limits })];
    for (const t of [a, b]) await admin(["org", "set", "--org", t.orgId, "--retain-raw-days", "1"]);
    const [ra, rb] = [await verdict(a, await a.customer()), await verdict(b, await b.customer())];
    const later = new Date(Date.now() + 2 * DAY);
    expect((await sweeper(later).sweep({ orgId: a.orgId })).erased.raw).toBe(1);
    expect((await rawOf(ra)).rawSealed).toBeNull();
    expect((await rawOf(rb)).rawSealed).not.toBeNull();
    await expect(sweeper(later).sweep({ orgId: "org_nope" })).rejects.toThrow(/org not found/);
  });

  it("is batched and resumable: a run stopped between batches erases whole rows, records what it did, and the next run finishes", async () => {
    const bank = await ctx.tenant({ limits });
    await admin(["org", "set", "--org", bank.orgId, "--retain-raw-days", "1"]);
    const c = await bank.customer();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await verdict(bank, c));
    const later = new Date(Date.now() + 2 * DAY);
    let asked = 0;
    const first = await sweeper(later, 2).sweep({ orgId: bank.orgId, shouldStop: () => ++asked > 1 }); // stop after one batch
    expect(first).toMatchObject({ erased: { raw: 2, selfies: 0 }, complete: false });
    const rows = await Promise.all(ids.map(rawOf));
    expect(rows.filter((r) => r.rawSealed === null && r.rawErasedAt !== null)).toHaveLength(2);
    expect(rows.filter((r) => r.rawSealed !== null && r.rawErasedAt === null)).toHaveLength(3); // nothing half-erased
    expect(rows.slice(0, 2).every((r) => r.rawSealed === null)).toBe(true); // oldest first
    const second = await sweeper(later, 2).sweep({ orgId: bank.orgId });
    expect(second).toMatchObject({ erased: { raw: 3, selfies: 0 }, complete: true });
    expect((await ctx.prisma.erasureRecord.findMany({ where: { orgId: bank.orgId }, orderBy: { id: "asc" } })).map((r) => r.raw)).toEqual([2, 3]);
  });

  it("runs once at a time: a sweep holding the lease makes another refuse (or wait for it); an expired lease is taken over", async () => {
    const bank = await ctx.tenant({ limits });
    await admin(["org", "set", "--org", bank.orgId, "--retain-raw-days", "1"]);
    const c = await bank.customer();
    for (let i = 0; i < 6; i++) await verdict(bank, c);
    const later = new Date(Date.now() + 2 * DAY);

    // another replica holds it
    expect(await leaseDal.acquire(ctx.prisma, RETENTION_LEASE, "replica-b", 60_000)).toBe(true);
    await expect(sweeper(later).sweep()).rejects.toThrow(SweepBusyError);
    await expect(sweeper(later).sweep()).rejects.toMatchObject({ statusCode: 409, code: "sweep_in_progress", message: expect.stringMatching(/a retention sweep is already running \(replica-b\)/) });
    // released while we wait: we run
    const waiting = sweeper(later).sweep({ waitForLeaseMs: 10_000 });
    await sleep(600);
    await leaseDal.release(ctx.prisma, RETENTION_LEASE, "replica-b");
    expect((await waiting).erased.raw).toBeGreaterThanOrEqual(6);
    // a holder that died: its lease expires and is taken over
    expect(await leaseDal.acquire(ctx.prisma, RETENTION_LEASE, "replica-dead", 1)).toBe(true);
    await sleep(20);
    expect((await sweeper(later).sweep()).complete).toBe(true);
    // the holder names this process (host and pid), so a refused sweep can say who is running
    expect((await leaseDal.holderOf(ctx.prisma, RETENTION_LEASE))!.holder.startsWith(`${hostname()}:${process.pid}:`)).toBe(true);

    // two at once: one runs, the other is refused, and every row is erased exactly once
    for (let i = 0; i < 6; i++) await verdict(bank, c);
    const both = await Promise.allSettled([sweeper(new Date(Date.now() + 2 * DAY), 2).sweep(), sweeper(new Date(Date.now() + 2 * DAY), 2).sweep()]);
    expect(both.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.any(SweepBusyError)]);
    const ran = both.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<{ erased: { raw: number } }>;
    expect(ran.value.erased.raw).toBeGreaterThanOrEqual(6);
    expect(await ctx.prisma.verification.count({ where: { customerId: c, rawSealed: { not: null } } })).toBe(0);
  });

  it("each org's part of the run: its counts, its record (the windows in words), the lease given back; a lease lost between batches stops the run", async () => {
    const bank = await ctx.tenant({ limits });
    await admin(["org", "set", "--org", bank.orgId, "--retain-raw-days", "1", "--retain-selfies-days", "2"]);
    const c = await bank.customer();
    for (let i = 0; i < 3; i++) await verdict(bank, c);
    await selfie(bank, c);
    const later = new Date(Date.now() + 3 * DAY);
    const out = await sweeper(later, 2).sweep({ orgId: bank.orgId });
    expect(out).toEqual({ erased: { selfies: 1, raw: 3 }, complete: true, orgs: [{ orgId: bank.orgId, selfies: 1, raw: 3, recordId: expect.stringMatching(/^era_/) }] });
    const record = await ctx.prisma.erasureRecord.findUniqueOrThrow({ where: { id: out.orgs[0]!.recordId! } });
    expect(record).toMatchObject({
      ...{ orgId: bank.orgId, customerId: null, trigger: "retention", actor: "retention", createdAt: later },
      ...{ reason: "retention: raw envelopes older than 1 day, selfies older than 2 days", photos: 0, templates: 0, selfies: 1, raw: 3 },
    });
    expect((await leaseDal.holderOf(ctx.prisma, RETENTION_LEASE))!.expiresAt.getTime()).toBeLessThan(Date.now());
    // nothing past the windows any more: the org is swept, with nothing to record
    expect(await sweeper(later, 2).sweep({ orgId: bank.orgId })).toEqual({ erased: { selfies: 0, raw: 0 }, complete: true, orgs: [{ orgId: bank.orgId, selfies: 0, raw: 0, recordId: null }] });

    await admin(["org", "set", "--org", bank.orgId, "--retain-selfies-days", "off"]);
    for (let i = 0; i < 5; i++) await verdict(bank, c);
    // while the first batch commits, another replica takes the lease over (as if ours had expired)
    await ctx.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION qe_test_steal_lease() RETURNS trigger AS $$
      BEGIN UPDATE job_leases SET holder = 'replica-c' WHERE name = '${RETENTION_LEASE}'; RETURN NULL; END $$ LANGUAGE plpgsql`);
    await ctx.prisma.$executeRawUnsafe(`CREATE TRIGGER qe_test_steal_lease AFTER UPDATE ON verifications FOR EACH STATEMENT EXECUTE FUNCTION qe_test_steal_lease()`);
    let stolen;
    try {
      stolen = await sweeper(new Date(Date.now() + 3 * DAY), 2).sweep({ orgId: bank.orgId });
    } finally {
      await ctx.prisma.$executeRawUnsafe(`DROP TRIGGER qe_test_steal_lease ON verifications`);
    }
    expect(stolen).toMatchObject({ erased: { selfies: 0, raw: 2 }, complete: false, orgs: [{ raw: 2, recordId: expect.any(String) }] });
    expect(await ctx.prisma.erasureRecord.findUniqueOrThrow({ where: { id: stolen.orgs[0]!.recordId! } })).toMatchObject({ reason: "retention: raw envelopes older than 1 day", raw: 2 });
    expect((await leaseDal.holderOf(ctx.prisma, RETENTION_LEASE))!.holder).toBe("replica-c"); // not ours to give back
    await leaseDal.release(ctx.prisma, RETENTION_LEASE, "replica-c");
  });

  it("admin retention sweep: the same work at once, printing {erased, complete}; metrics count it as retention", async () => {
    const bank = await ctx.tenant({ limits });
    const c = await bank.customer();
    await verdict(bank, c);
    await admin(["org", "set", "--org", bank.orgId, "--retain-raw-days", "1"]);
    const metric = async () => {
      const { values } = await ctx.app.metrics.registry.getSingleMetric("identity_erased_total")!.get();
      return values.find((v) => v.labels.kind === "raw" && v.labels.trigger === "retention")?.value ?? 0;
    };
    const before = await metric();
    // nothing is a day old yet
    expect(await admin(["retention", "sweep", "--org", bank.orgId])).toEqual({ erased: { selfies: 0, raw: 0 }, complete: true });
    await expect(admin(["retention", "sweep", "--org", "org_nope"])).rejects.toThrow(/org not found/);
    await expect(admin(["retention", "sweep", "--nope"])).rejects.toThrow(UsageError);
    // a day and a bit later (the sweep's own clock), through the same service the command uses
    expect((await sweeper(new Date(Date.now() + DAY + 1000)).sweep({ orgId: bank.orgId })).erased.raw).toBe(1);
    expect(await metric()).toBe(before + 1);
    // the decision is still read the same way
    const kyc = await ctx.app.inject({ method: "GET", url: `/api/identity/kyc/${c}`, headers: bank.auth });
    expect(kyc.json().verifications).toEqual([expect.objectContaining({ method: "nik_dukcapil", status: "verified", score: 100 })]);
  });
});
