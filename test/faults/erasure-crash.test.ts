// An erasure killed half-way (SIGKILL between two committed batches, of the process running it: the CLI on
// PostgreSQL, the server the CLI handed it to on the embedded PGlite) leaves every row whole or erased, never
// half of one, and no erasure record; running it again finishes the rest and records what that run erased.
// Real templates and selfies: the server runs the real face engine.
import { setBPhoto } from "../face/eval-set.js";
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { createSealer, parseSealingKeys } from "../../src/crypto/seal.js";
import type { Database } from "../../src/db/client.js";
import { b64 } from "../helpers/images.js";

import { admin, api, cleanupAll, createTenant, freePort, INGEST, newSealingKeys, onCleanup, ROOT, serviceEnv, startPgCluster, startServer, stopServer, tempDir, waitUntil } from "./harness.js";
import { openServiceDatabase } from "./verdicts.js";

afterAll(cleanupAll);

const BATCH_LINE = /erasure batch committed: (\{.*\})/g;

async function stateOf(db: Database, customerId: string) {
  const p = db.prisma;
  return {
    verifications: await p.verification.findMany({ where: { customerId }, orderBy: { id: "asc" } }),
    enrolments: await p.faceEnrolment.findMany({ where: { customerId }, orderBy: { id: "asc" } }),
    selfies: await p.faceMatchSelfie.findMany({ where: { customerId }, orderBy: { verificationId: "asc" } }),
    tierEvents: await p.tierEvent.findMany({ where: { customerId }, orderBy: { id: "asc" } }),
    customer: await p.customer.findUniqueOrThrow({ where: { id: customerId } }),
    records: await p.erasureRecord.findMany({ where: { customerId }, orderBy: { id: "asc" } }),
  };
}
type State = Awaited<ReturnType<typeof stateOf>>;

/** Each row is whole (content, no erasure time) or erased (no content, erasure time); returns how many are erased. */
function wholeOrErased(s: State) {
  const problems: string[] = [];
  let photos = 0;
  let templates = 0;
  for (const e of s.enrolments) {
    if (e.erasedAt === null && !(e.photoSealed && e.templateSealed)) problems.push(`enrolment ${e.id} lost content without being erased`);
    if (e.erasedAt !== null && (e.photoSealed || e.templateSealed)) problems.push(`enrolment ${e.id} is half erased`);
    if (e.erasedAt !== null) [photos, templates] = [photos + 1, templates + 1];
  }
  const selfies = s.selfies.filter((x) => x.erasedAt !== null).length;
  for (const x of s.selfies) if ((x.erasedAt === null) !== (x.selfieSealed !== null)) problems.push(`selfie ${x.verificationId} is half erased`);
  const raw = s.verifications.filter((v) => v.rawErasedAt !== null).length;
  for (const v of s.verifications) if (v.rawErasedAt !== null && v.rawSealed !== null) problems.push(`verification ${v.id} is half erased`);
  return { problems, erased: { photos, templates, selfies, raw } };
}

describe.each(["pglite", "postgres"] as const)("SIGKILL in the middle of customer erase, then a rerun (%s)", (kind) => {
  it("leaves nothing half-erased, and the rerun finishes it", async () => {
    const dataDir = await tempDir(`erasure-crash-${kind}`);
    const databaseUrl = kind === "postgres" ? await (await startPgCluster()).createDatabase() : undefined;
    const sealingKeys = newSealingKeys();
    const base = { ...serviceEnv({ port: await freePort(), dataDir, databaseUrl, sealingKeys }), FACE_ENGINE: "onnx", FACE_TIMEOUT_MS: "20000", RETENTION_SWEEP_INTERVAL_SECONDS: "off" };
    // Test hooks (NODE_ENV=test only): batches of 2, and a line then a 1.5 s pause after each committed batch (the kill lands in it).
    const hooked = { ...base, NODE_ENV: "test", TEST_ERASURE_BATCH_SIZE: "2", TEST_ERASURE_PAUSE_MS: "1500" };

    // Seed with the real engine: 5 verdicts (5 enrolments with templates, 5 raw envelopes) and 3 matches (3 selfies).
    let server = await startServer(base, 60_000);
    const tenant = await createTenant(base, 100_000);
    const client = api(server.port, tenant.key);
    const [registry, selfie] = await Promise.all([setBPhoto("r1c01"), setBPhoto("r1c02")]);
    const target = await client.customer();
    const neighbour = await client.customer();
    for (const [customerId, verdicts, matches] of [[target, 5, 3], [neighbour, 1, 1]] as const) {
      for (let i = 0; i < verdicts; i++) {
        const res = await client.post(INGEST, { customerId, valid: true, photo: b64(registry), raw: { nik: "3171", seq: i, customerId } }, {}, 30_000);
        expect(res.status, res.body).toBe(201);
        expect(res.json<{ enrolment: { fallbackStub: boolean } }>().enrolment.fallbackStub).toBe(false);
      }
      for (let i = 0; i < matches; i++) {
        const res = await client.post("/api/identity/face/match", { customerId, photo: b64(selfie) }, {}, 30_000);
        expect(res.status, res.body).toBe(201);
      }
    }
    expect((await stopServer(server)).code).toBe(0);
    let db = await openServiceDatabase(base);
    const before = await stateOf(db, target);
    const neighbourBefore = await stateOf(db, neighbour);
    await db.close();
    expect([before.enrolments.length, before.selfies.length, before.verifications.filter((v) => v.rawSealed).length]).toEqual([5, 3, 5]);

    // The erasure, killed after its Nth committed batch (pglite: mid-enrolments; postgres: mid-raw).
    const killAfter = kind === "pglite" ? 2 : 6;
    server = await startServer(hooked, 60_000);
    const cli = spawn(process.execPath, ["--import", "tsx", "src/cli/admin.ts", "customer", "erase", "--customer", target, "--reason", "request 17", "--actor", "dpo"], {
      cwd: ROOT,
      env: hooked,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const cliExit = new Promise<number | null>((resolve) => cli.once("exit", (code) => resolve(code)));
    onCleanup(async () => {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill("SIGKILL");
    });
    let cliErr = "";
    cli.stderr!.setEncoding("utf8").on("data", (c: string) => (cliErr += c));
    const progressText = () => (kind === "postgres" ? cliErr : server.stderr.join("")); // where the erasure runs
    const batches = () => [...progressText().matchAll(BATCH_LINE)].map((m) => JSON.parse(m[1]!) as { batch: number; erased: Record<string, number> });
    await waitUntil(`${killAfter} committed erasure batches`, async () => batches().length >= killAfter, 60_000, 20);
    const atKill = batches().at(-1)!;
    if (kind === "postgres") cli.kill("SIGKILL");
    else server.kill("SIGKILL");
    await (kind === "postgres" ? cliExit : server.exited);
    if (kind === "pglite") expect(await cliExit).toBe(1); // the server it handed the command to died
    if (kind === "postgres") await stopServer(server);

    db = await openServiceDatabase(base);
    const crashed = await stateOf(db, target);
    await db.close();
    const half = wholeOrErased(crashed);
    expect(half.problems).toEqual([]);
    expect(half.erased).toEqual(atKill.erased); // exactly the committed batches, no more
    expect(crashed.records).toEqual([]); // the killed run never reported success, so it left no record

    // The rerun (no hooks) finishes the rest and records what it erased.
    server = await startServer(base, 60_000);
    const rerun = await admin(base, ["customer", "erase", "--customer", target, "--reason", "request 17 (rerun)", "--actor", "dpo"]);
    const total = { photos: 5, templates: 5, selfies: 3, raw: 5 };
    const k = (name: keyof typeof total) => total[name] - atKill.erased[name]!;
    expect(rerun).toMatchObject({ customerId: target, erased: { photos: k("photos"), templates: k("templates"), selfies: k("selfies"), raw: k("raw") } });
    expect((await client.post("/api/customers", {})).status).toBe(201); // the server serves normally after the crash
    expect((await stopServer(server)).code).toBe(0);

    db = await openServiceDatabase(base);
    try {
      const after = await stateOf(db, target);
      const done = wholeOrErased(after);
      expect(done.problems).toEqual([]);
      expect(done.erased).toEqual(total);
      expect(after.records.map((r) => [r.reason, r.photos, r.templates, r.selfies, r.raw])).toEqual([["request 17 (rerun)", k("photos"), k("templates"), k("selfies"), k("raw")]]);
      // the decision record is whole, the erasure columns aside; no ciphertext of the customer is left
      const strip = <T extends object>(rows: T[], cols: (keyof T)[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([c]) => !cols.includes(c as keyof T))));
      expect(strip(after.verifications, ["rawSealed", "rawErasedAt"])).toEqual(strip(before.verifications, ["rawSealed", "rawErasedAt"]));
      expect(strip(after.enrolments, ["photoSealed", "templateSealed", "erasedAt"])).toEqual(strip(before.enrolments, ["photoSealed", "templateSealed", "erasedAt"]));
      expect(after.tierEvents).toEqual(before.tierEvents);
      expect(after.customer).toEqual(before.customer);
      expect(await stateOf(db, neighbour)).toEqual(neighbourBefore);
      const sealer = createSealer(parseSealingKeys(sealingKeys));
      const kept = neighbourBefore.enrolments[0]!;
      expect(sealer.open(kept.photoSealed!, { purpose: "face_enrolment.photo", rowId: kept.id }).equals(registry)).toBe(true);
      console.log(`[faults] erasure killed on ${kind} after batch ${atKill.batch} (${JSON.stringify(atKill.erased)}); the rerun erased ${JSON.stringify(rerun.erased)}`);
    } finally {
      await db.close();
    }
  }, 240_000);
});
