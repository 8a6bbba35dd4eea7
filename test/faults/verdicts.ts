// Verdict load against a real server process, and the checks that what it answered 2xx is in the database,
// whole. Shared by the PostgreSQL-outage and crash-recovery scenarios.
import { randomBytes } from "node:crypto";
import { openDatabase, pgliteDir, type Database } from "../../src/db/client.js";
import { createSealer, parseSealingKeys } from "../../src/crypto/seal.js";
import { tierFromHistory, type Tier } from "../../src/kyc/tier.js";
import { INGEST, request } from "./harness.js";

export interface SentVerdict {
  customerId: string;
  valid: boolean;
  rawText: string;
  startedAt: number;
  ms?: number;
  status?: number;
  body?: string;
  retryAfter?: string;
  /** Transport failure (reset, refused, timeout): the verdict may or may not have been recorded. */
  error?: string;
}

export interface Load {
  sent: SentVerdict[];
  inFlight(): number;
  stop(): Promise<void>;
}

/** `concurrency` loops posting verdicts (2 in 3 verified, each with its own raw envelope) round the customers. */
export function startLoad(opts: { port: number; key: string; customers: string[]; photo: string; concurrency: number; timeoutMs?: number }): Load {
  const sent: SentVerdict[] = [];
  let running = true;
  let inFlight = 0;
  let n = 0;
  const loop = async () => {
    while (running) {
      const i = n++;
      const v: SentVerdict = {
        customerId: opts.customers[i % opts.customers.length]!,
        valid: i % 3 !== 2,
        rawText: `{"nik":"3171${String(i).padStart(12, "0")}","seq":${i},"nonce":"${randomBytes(6).toString("hex")}"}`,
        startedAt: Date.now(),
      };
      sent.push(v);
      const body = `{"customerId":"${v.customerId}","valid":${v.valid},${v.valid ? `"photo":"${opts.photo}",` : `"reason":"declined ${i}",`}"raw":${v.rawText}}`;
      inFlight++;
      try {
        const res = await request(opts.port, "POST", INGEST, {
          headers: { authorization: `Bearer ${opts.key}`, "content-type": "application/json" },
          body,
          timeoutMs: opts.timeoutMs ?? 20_000,
        });
        v.status = res.status;
        v.body = res.body;
        v.retryAfter = res.headers["retry-after"] as string | undefined;
        v.ms = res.ms;
      } catch (err) {
        v.error = (err as Error).message;
        v.ms = Date.now() - v.startedAt;
        await new Promise((r) => setTimeout(r, 50)); // the server is gone: do not spin
      } finally {
        inFlight--;
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency }, loop);
  return {
    sent,
    inFlight: () => inFlight,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Opens the database a (stopped) service used, from this process. */
export async function openServiceDatabase(env: NodeJS.ProcessEnv): Promise<Database> {
  return env.DATABASE_URL
    ? openDatabase({ kind: "postgres", url: env.DATABASE_URL, poolMax: 2 })
    : openDatabase({ kind: "pglite", dataDir: pgliteDir(env.DATA_DIR!) });
}

export interface Audit {
  acknowledged: number;
  verifiedAcknowledged: number;
  problems: string[];
}

/**
 * Every 2xx verdict is present and complete (its verification with the right status and the raw envelope that
 * was sent; a verified one with its enrolment), and, over everything stored (acknowledged or not): no verified
 * verdict without exactly one enrolment, no enrolment without its verification, one current dukcapil enrolment
 * per customer at most, and each customer's tier equal to the last of its tier events and to its history.
 */
export async function auditVerdicts(db: Database, sealingKeys: string, sent: SentVerdict[]): Promise<Audit> {
  const p = db.prisma;
  const sealer = createSealer(parseSealingKeys(sealingKeys));
  const problems: string[] = [];
  const acked = sent.filter((v) => v.status !== undefined && v.status >= 200 && v.status < 300);
  for (const v of acked) {
    const body = JSON.parse(v.body!) as { verification: { id: string; status: string }; enrolment: { id: string } | null };
    const ver = await p.verification.findUnique({ where: { id: body.verification.id } });
    if (!ver) {
      problems.push(`acknowledged verification ${body.verification.id} is missing`);
      continue;
    }
    if (ver.customerId !== v.customerId || ver.status !== (v.valid ? "verified" : "failed")) problems.push(`verification ${ver.id} differs from what was sent`);
    const raw = ver.rawSealed ? sealer.open(ver.rawSealed, { purpose: "verification.raw", rowId: ver.id }).toString("utf8") : undefined;
    if (raw !== v.rawText) problems.push(`verification ${ver.id}: raw envelope missing or different`);
    if (v.valid) {
      const fe = body.enrolment ? await p.faceEnrolment.findUnique({ where: { id: body.enrolment.id } }) : null;
      if (!fe || fe.verificationId !== ver.id) problems.push(`verified ${ver.id}: its acknowledged enrolment is missing`);
    }
  }

  const verified = await p.verification.findMany({ where: { method: "nik_dukcapil", status: "verified" }, select: { id: true } });
  const enrolments = await p.faceEnrolment.findMany({ where: { source: "dukcapil" }, select: { id: true, verificationId: true, customerId: true, supersededAt: true } });
  const enrolmentsByVerification = new Map<string, number>();
  for (const e of enrolments) enrolmentsByVerification.set(e.verificationId ?? "", (enrolmentsByVerification.get(e.verificationId ?? "") ?? 0) + 1);
  const verifiedIds = new Set(verified.map((v) => v.id));
  for (const v of verified) if (enrolmentsByVerification.get(v.id) !== 1) problems.push(`verified ${v.id} has ${enrolmentsByVerification.get(v.id) ?? 0} enrolments`);
  for (const e of enrolments) if (!e.verificationId || !verifiedIds.has(e.verificationId)) problems.push(`enrolment ${e.id} has no verified verification`);
  const current = new Map<string, number>();
  for (const e of enrolments) if (!e.supersededAt) current.set(e.customerId, (current.get(e.customerId) ?? 0) + 1);
  for (const [c, count] of current) if (count > 1) problems.push(`customer ${c} has ${count} current dukcapil enrolments`);

  const customers = await p.customer.findMany({ select: { id: true, kycTier: true } });
  for (const c of customers) {
    const events = await p.tierEvent.findMany({ where: { customerId: c.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    let tier: Tier = "none";
    for (const e of events) {
      if (e.fromTier !== tier) problems.push(`customer ${c.id}: tier event ${e.id} starts from ${e.fromTier}, not ${tier}`);
      if (!e.verificationId || !(await p.verification.findUnique({ where: { id: e.verificationId } }))) problems.push(`tier event ${e.id} has no verification`);
      tier = e.toTier;
    }
    if (c.kycTier !== tier) problems.push(`customer ${c.id}: tier ${c.kycTier} but its events end at ${tier}`);
    const history = await p.verification.findMany({ where: { customerId: c.id }, select: { method: true, status: true } });
    if (c.kycTier !== tierFromHistory(history)) problems.push(`customer ${c.id}: tier ${c.kycTier} but its history says ${tierFromHistory(history)}`);
  }
  return { acknowledged: acked.length, verifiedAcknowledged: acked.filter((v) => v.valid).length, problems };
}
