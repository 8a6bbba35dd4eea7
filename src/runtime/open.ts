// Opens what both the server and the admin CLI run on: the database (migrated), the sealing keyring, the
// face engine and the services.
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { loadSealer, type Sealer } from "../crypto/seal.js";
import { openDatabase, pgliteDir, type Database } from "../db/client.js";
import { faceEngineOff, type FaceTemplater } from "../face/engine.js";
import { createServices, type Services } from "../services.js";

export interface Runtime {
  db: Database;
  sealer: Sealer;
  face: FaceTemplater;
  services: Services;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, log: Logger): Promise<Runtime> {
  const sealer = await loadSealer({
    sealingKeys: config.sealingKeys,
    dataDir: config.dataDir,
    production: config.env === "production",
    onDevKey: (file, created) =>
      log.warn(
        { file },
        `SEALING_KEYS is not set: ${created ? "generated" : "using"} a development sealing key in the data directory. ` +
          "Never run production like this; set SEALING_KEYS.",
      ),
  });
  const db = await openDatabase(
    config.databaseUrl
      ? { kind: "postgres", url: config.databaseUrl, poolMax: config.databasePoolMax }
      : { kind: "pglite", dataDir: pgliteDir(config.dataDir) },
  );
  try {
    const applied = await db.migrate();
    if (applied.length) log.info({ applied }, "database migrations applied");
  } catch (err) {
    await db.close();
    throw err;
  }
  const face = faceEngineOff;
  const services = createServices({ prisma: db.prisma, sealer, face });
  return {
    db,
    sealer,
    face,
    services,
    async close() {
      await services.apiKeys.flushLastUsed().catch((err: unknown) => log.warn({ err }, "could not write API key last-used times"));
      await face.close();
      await db.close();
    },
  };
}
