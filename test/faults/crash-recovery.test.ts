// SIGKILL during load, then restart: every verdict that got a 2xx is present and complete, and nothing stored
// is half a verdict. On PostgreSQL and on the embedded PGlite (whose restart must take over the stale lock).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { b64, jpeg } from "../helpers/images.js";
import { api, cleanupAll, createTenant, freePort, INGEST, newSealingKeys, serviceEnv, startPgCluster, startServer, stopServer, tempDir, waitUntil } from "./harness.js";
import { auditVerdicts, openServiceDatabase, startLoad } from "./verdicts.js";

afterAll(cleanupAll);

describe.each(["postgres", "pglite"] as const)("SIGKILL during load, then restart (%s)", (kind) => {
  it("keeps every acknowledged verdict whole", async () => {
    const dataDir = await tempDir(`crash-${kind}`);
    const databaseUrl = kind === "postgres" ? await (await startPgCluster()).createDatabase() : undefined;
    const sealingKeys = newSealingKeys();
    const env = serviceEnv({ port: await freePort(), dataDir, databaseUrl, sealingKeys });
    let server = await startServer(env);
    const tenant = await createTenant(env, 100_000);
    const client = api(server.port, tenant.key);
    const customers = await Promise.all(Array.from({ length: 8 }, () => client.customer()));
    const photo = b64(await jpeg(320, 400, { noise: true }));

    const load = startLoad({ port: server.port, key: tenant.key, customers, photo, concurrency: 6 });
    await waitUntil("40 acknowledged verdicts", async () => load.sent.filter((v) => v.status === 201).length >= 40, 30_000, 20);
    await waitUntil("requests in flight", async () => load.inFlight() >= 3, 5_000, 1);
    const inFlightAtKill = load.inFlight();
    server.kill("SIGKILL");
    const killed = await server.exited;
    expect(killed.signal).toBe("SIGKILL");
    await load.stop();

    if (kind === "pglite") {
      // The dead process's lock is still there; the new server must take it over, not wait for it.
      const lock = JSON.parse(await readFile(path.join(dataDir, "embedded-db.lock"), "utf8")) as { pid: number };
      expect(lock.pid).toBe(server.pid);
    }
    const t0 = Date.now();
    server = await startServer(env);
    const restartMs = Date.now() - t0;
    const after = await client.post(INGEST, { customerId: customers[0], valid: false, reason: "after the crash" });
    expect(after.status).toBe(201);
    const stopped = await stopServer(server);
    expect(stopped.code).toBe(0);

    const db = await openServiceDatabase(env);
    try {
      const audit = await auditVerdicts(db, sealingKeys, load.sent);
      const lost = load.sent.filter((v) => v.error).length;
      console.log(
        `[faults] SIGKILL on ${kind}: ${load.sent.length} verdicts sent, ${audit.acknowledged} acknowledged (${audit.verifiedAcknowledged} verified), ` +
          `${inFlightAtKill} in flight at the kill, ${lost} cut off; restart took ${restartMs} ms; problems: ${audit.problems.length}`,
      );
      expect(audit.problems).toEqual([]);
      expect(load.sent.filter((v) => v.status !== undefined && v.status !== 201)).toEqual([]);
      expect(lost).toBeGreaterThan(0); // the kill really did land mid-request
    } finally {
      await db.close();
    }
  });
});
