import path from "node:path";
import { defineConfig } from "prisma/config";

// The Prisma CLI downloads a native schema engine before `generate` even though generate never uses it,
// and that host is unreachable here. Pointing this variable at any existing file skips the download.
// Migrations never go through the CLI: src/db/cli.ts drives the wasm schema engine instead.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.resolve(import.meta.dirname, "scripts/no-schema-engine.sh");
process.env.CHECKPOINT_DISABLE ??= "1"; // no update-check request

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://unused@127.0.0.1:1/unused" },
});
