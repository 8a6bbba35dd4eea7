// Run by the global setup in a plain Node process (the wasm schema engine does not run inside vitest's module
// runner): migrates an in-memory PGlite and writes its data directory dump to argv[2].
import { writeFile } from "node:fs/promises";
import { openDatabase } from "../../src/db/client.js";

const db = await openDatabase({ kind: "pglite", dataDir: "memory://" });
await db.migrate();
const dump = await db.pglite!.dumpDataDir("none");
await db.close();
await writeFile(process.argv[2]!, Buffer.from(await dump.arrayBuffer()));
