import { defineConfig } from "vitest/config";

// Every suite runs on the embedded PGlite; with TEST_DATABASE_URL set (CI sets it) the database suites run a
// second time on PostgreSQL. Pure unit tests do not depend on the database and run once.
const databases = ["pglite", ...(process.env.TEST_DATABASE_URL ? ["postgres"] : [])];

export default defineConfig({
  test: {
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      ...databases.map((db) => ({
        extends: true as const,
        test: { name: db, include: ["test/**/*.test.ts"], exclude: ["test/unit/**", "test/faults/**"], env: { TEST_DB: db } },
      })),
    ],
  },
});
