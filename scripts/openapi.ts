// npm run openapi: writes openapi.yaml from the routes' zod schemas (test/openapi/openapi.test.ts fails when
// the committed file differs). The app is built on a throwaway in-memory database: no route runs.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { buildApp } from "../src/app.js";
import { createSealer } from "../src/crypto/seal.js";
import { openDatabase } from "../src/db/client.js";
import { faceEngineOff } from "../src/face/engine.js";
import { openapiYaml } from "../src/http/openapi.js";
import { createServices } from "../src/services.js";

const db = await openDatabase({ kind: "pglite", dataDir: "memory://" });
const services = createServices({ prisma: db.prisma, sealer: createSealer([{ id: "unused", key: randomBytes(32) }]), face: faceEngineOff });
const app = await buildApp({ prisma: db.prisma, services, logLevel: "silent" });
await app.ready();
const file = path.resolve(import.meta.dirname, "../openapi.yaml");
await writeFile(file, openapiYaml(app));
await app.close();
await db.close();
console.log(`wrote ${path.relative(process.cwd(), file)}`);
