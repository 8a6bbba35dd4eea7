// Opens what both the server and the admin CLI run on: the database (migrated), the sealing keyring, the
// face engine and the services.
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { loadSealer, type Sealer } from "../crypto/seal.js";
import { openDatabase, pgliteDir, type Database } from "../db/client.js";
import { faceEngineOff, type FaceTemplater } from "../face/engine.js";
import { FACE_TEMPLATE_MODEL_ID } from "../face/pipeline.js";
import { FaceEngineClosedError, startFaceTemplateEngine } from "../face/template-engine.js";
import { createServices, type Services } from "../services.js";

export interface Runtime {
  db: Database;
  sealer: Sealer;
  face: FaceTemplater;
  services: Services;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /**
   * `start` (default): the face engine's workers load the models now, in the background, so the first verdict
   * does not wait for them. `on-demand`: only when something first asks for a template (admin commands).
   */
  face?: "start" | "on-demand";
}

/** The configured face engine. Worker failures and load times are logged; the service carries on either way. */
function openFaceEngine(config: Config, log: Logger, when: "start" | "on-demand"): FaceTemplater {
  if (config.face.engine === "off") {
    log.info("FACE_ENGINE=off: every enrolment is a fallback stub with cause engine_off");
    return faceEngineOff;
  }
  const start = () => {
    const engine = startFaceTemplateEngine({
      workers: config.face.workers,
      timeoutMs: config.face.timeoutMs,
      onWorkerError: (err) => log.error({ err }, "face engine worker failed (it is replaced; that photo's enrolment is a stub)"),
    });
    engine.ready.then(
      ({ loadMs }) => log.info({ model: engine.model, workers: config.face.workers, loadMs }, "face engine ready"),
      (err: unknown) => {
        if (!(err instanceof FaceEngineClosedError)) {
          log.error({ err }, "face engine could not load its models: every enrolment will be a stub with cause engine_error");
        }
      },
    );
    return engine;
  };
  if (when === "start") return start();
  let engine: FaceTemplater | undefined;
  return {
    model: FACE_TEMPLATE_MODEL_ID,
    capacity: config.face.workers,
    detect: (photo, o) => (engine ??= start()).detect(photo, o),
    template: (photo, o) => (engine ??= start()).template(photo, o),
    close: async () => engine?.close(),
  };
}

export async function openRuntime(config: Config, log: Logger, opts: RuntimeOptions = {}): Promise<Runtime> {
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
  const face = openFaceEngine(config, log, opts.face ?? "start");
  const services = createServices({ prisma: db.prisma, sealer, face, testHooks: config.testHooks });
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
