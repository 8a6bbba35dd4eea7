// Concurrent verdicts: the customer row lock serialises verdicts per customer, so whatever the interleaving the
// stored tier equals the tier recomputed from history, every tier change has exactly one event, and exactly one
// dukcapil enrolment is current.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg, png } from "../helpers/images.js";
import { newId } from "../../src/ids.js";
import { tierFromHistory, type Tier } from "../../src/kyc/tier.js";

const INGEST = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;
let photos: string[];
let seq = 0;
const newKey = () => `conc-${process.pid}-${seq++}`;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 100_000 } });
  photos = [b64(await jpeg(160, 200)), b64(await png(180, 160)), b64(await jpeg(200, 240, { noise: true }))];
});
afterAll(() => ctx.close());

/** Everything the invariants need about one customer, read back from the database. */
async function stateOf(customerId: string) {
  const p = ctx.prisma;
  const [customer, verifications, events, enrolments] = await Promise.all([
    p.customer.findUniqueOrThrow({ where: { id: customerId } }),
    p.verification.findMany({ where: { customerId }, select: { id: true, method: true, status: true } }),
    p.tierEvent.findMany({ where: { customerId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
    p.faceEnrolment.findMany({ where: { customerId, source: "dukcapil" } }),
  ]);
  return { customer, verifications, events, enrolments };
}

/** The invariants that must hold after any set of verdicts. */
function expectConsistent(s: Awaited<ReturnType<typeof stateOf>>, label: string) {
  const eligible: Tier = tierFromHistory(s.verifications);
  expect(s.customer.kycTier, `${label}: stored tier vs history`).toBe(eligible);
  // the events form one chain from none to the stored tier: one event per actual change, none without a change
  let tier: Tier = "none";
  for (const e of s.events) {
    expect(e.fromTier, `${label}: event chain`).toBe(tier);
    expect(e.toTier, `${label}: an event without a change`).not.toBe(e.fromTier);
    tier = e.toTier;
  }
  expect(tier, `${label}: events end at the stored tier`).toBe(s.customer.kycTier);
  // exactly one current dukcapil enrolment when any verdict was verified; each superseded one points to a real row
  const verified = s.verifications.filter((v) => v.method === "nik_dukcapil" && v.status === "verified").length;
  expect(s.enrolments, `${label}: one enrolment per verified verdict`).toHaveLength(verified);
  const current = s.enrolments.filter((e) => e.supersededAt === null);
  expect(current, `${label}: current dukcapil enrolments`).toHaveLength(verified > 0 ? 1 : 0);
  const ids = new Set(s.enrolments.map((e) => e.id));
  for (const e of s.enrolments) {
    if (e.supersededAt !== null) expect(ids.has(e.supersededById!), `${label}: superseded by a real enrolment`).toBe(true);
  }
}

describe("concurrent verdicts", () => {
  it("20 concurrent verified verdicts for one customer: all recorded, one tier event, one current enrolment", async () => {
    const customerId = await bank.customer();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => bank.post(INGEST, { customerId, valid: true, photo: photos[i % photos.length] }, { "idempotency-key": newKey() })),
    );
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(201));
    expect(results.every((r) => r.headers["idempotent-replayed"] === undefined)).toBe(true);
    const verificationIds = new Set(results.map((r) => r.json().verification.id as string));
    expect(verificationIds.size).toBe(20);

    const s = await stateOf(customerId);
    expect(s.verifications).toHaveLength(20);
    expect(new Set(s.verifications.map((v) => v.id))).toEqual(verificationIds);
    expect(s.customer.kycTier).toBe("standard");
    expect(s.events.map((e) => [e.fromTier, e.toTier])).toEqual([["none", "standard"]]);
    expect(s.enrolments).toHaveLength(20);
    const current = s.enrolments.filter((e) => e.supersededAt === null);
    expect(current).toHaveLength(1);
    // the current enrolment is the one of the verdict that committed last
    const latest = await ctx.prisma.verification.findFirstOrThrow({ where: { customerId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    expect(current[0]!.verificationId).toBe(latest.id);
    expectConsistent(s, "single customer");
  });

  it("mixed verified/declined storms across many customers leave every stored tier equal to its history", async () => {
    const customers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = await bank.customer();
      customers.push(id);
      // a third of them already hold a verified face match: a verified verdict takes them to premium
      if (i % 3 === 0) {
        await ctx.prisma.verification.create({
          data: { id: newId.verification(), orgId: bank.orgId, customerId: id, method: "face_match", status: "verified", score: 91 },
        });
      }
    }
    // A deterministic but scrambled mix: 80 verdicts, every customer gets several, some customers only declines.
    const requests = Array.from({ length: 80 }, (_, i) => {
      const c = (i * 7) % customers.length;
      const valid = c % 4 !== 1 && (i * 13) % 5 < 3;
      const customerId = customers[c]!;
      return valid
        ? { customerId, valid: true, photo: photos[i % photos.length] }
        : { customerId, valid: false, reason: `declined ${i}` };
    });
    const results = await Promise.all(requests.map((payload) => bank.post(INGEST, payload, { "idempotency-key": newKey() })));
    expect(results.filter((r) => r.statusCode !== 201).map((r) => r.body)).toEqual([]);

    const tiers = new Map<Tier, number>();
    for (const id of customers) {
      const s = await stateOf(id);
      expectConsistent(s, id);
      tiers.set(s.customer.kycTier, (tiers.get(s.customer.kycTier) ?? 0) + 1);
    }
    // the mix really exercised every outcome
    expect([...tiers.keys()].sort()).toEqual(["none", "premium", "standard"]);
    expect(await ctx.prisma.verification.count({ where: { customerId: { in: customers }, method: "nik_dukcapil" } })).toBe(80);
  });

  it("same-key races across customers: exactly one write per key", async () => {
    const keys = Array.from({ length: 5 }, () => newKey());
    const customers = await Promise.all(keys.map(() => bank.customer()));
    // 8 attempts per key, interleaved (k0, k1, …, k4, k0, …) so the races overlap
    const attempts = Array.from({ length: keys.length * 8 }, (_, i) => {
      const k = i % keys.length;
      return { key: keys[k]!, payload: { customerId: customers[k]!, valid: true, photo: photos[k % photos.length] } };
    });
    const results = await Promise.all(attempts.map((a) => bank.post(INGEST, a.payload, { "idempotency-key": a.key })));

    for (const [k, key] of keys.entries()) {
      const mine = results.filter((_, i) => attempts[i]!.key === key);
      const executed = mine.filter((r) => r.statusCode === 201 && r.headers["idempotent-replayed"] === undefined);
      expect(executed, key).toHaveLength(1);
      for (const r of mine) {
        if (r.statusCode === 201) expect(r.body).toBe(executed[0]!.body);
        else expect([r.statusCode, r.json().code]).toEqual([409, "idempotency_request_in_progress"]);
      }
      const s = await stateOf(customers[k]!);
      expect(s.verifications).toHaveLength(1);
      expect(s.verifications[0]!.id).toBe(executed[0]!.json().verification.id);
      expect(s.events).toHaveLength(1);
      expectConsistent(s, key);
    }
  });
});
