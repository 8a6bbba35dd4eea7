import { defineConfig } from "vitest/config";

// `npm run test:faults`: scenarios that start, stop and kill real server processes, a PostgreSQL cluster and a
// redis-server of their own (test/faults/). One file at a time: they measure timings on shared cores.
export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: false,
  },
});
