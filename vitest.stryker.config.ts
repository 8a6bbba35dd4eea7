import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

// The tests Stryker runs against each mutant (`npm run test:mutation`, stryker.config.mjs): the unit and PGlite
// projects of vitest.config.ts, never PostgreSQL. One database is enough to judge a mutant: the services and
// DAL functions under mutation are the same code on both, and what differs between the two (the driver, the
// SQL dialect's corners) is what the PostgreSQL project of `npm test` is there for; a second database would
// double every mutant's time for no mutant it alone could kill.
//
// Left out, besides test/faults (never in `npm test` either): the suites whose code under test runs in other
// processes (the admin CLI, the data-directory permissions, the migrations: each spawns real servers or CLIs,
// where no mutant is active, so they can kill none and would only make every static mutant slower) and the
// console's real-browser test (the same pages are driven through app.inject by test/console/console.test.ts),
// and the hostile-input corpora (test/hostile: hundreds of requests each, whose one question, "never a 5xx,
// never a row from a refusal", is not what a mutant of a rule breaks; they cover nearly every mutant, so each
// surviving mutant would pay for all of them).
//
// Stryker's vitest runner runs one test at a time in worker threads (it overrides pool and workers) and picks
// for each mutant only the tests that covered it (coverageAnalysis "perTest").
const LEFT_OUT = ["test/faults/**", "test/cli/admin.test.ts", "test/ops/private-files.test.ts", "test/db/migrations.test.ts", "test/console/browser.test.ts", "test/hostile/**"];

// The order a mutant's test files run in. Stryker stops a mutant at its first failing test (bail), so a
// killed mutant costs only the files run before the one that kills it. Vitest's own order suits a whole run
// (projects by name, so the PGlite suites before the unit tests; then the longest files first); here it made
// most mutants of a rule with fast unit tests wait for minutes of database suites first. Instead: unit tests
// first, then the file that failed last (a mutant's neighbours in the same code are usually killed by the
// same file), then the quickest files by their last duration (smallest first when none is known yet).
class QuickestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const known = (file: TestSpecification) => cache.getFileTestResults(`${file.project.name}:${relative(this.ctx.config.root, file.moduleId)}`);
    const size = (file: TestSpecification) => cache.getFileStats(`${file.project.name}:${relative(this.ctx.config.root, file.moduleId)}`)?.size ?? 0;
    const rank = (file: TestSpecification) => (file.project.name === "unit" ? 0 : 1);
    return [...files].sort((a, b) => {
      if (rank(a) !== rank(b)) return rank(a) - rank(b);
      const ra = known(a);
      const rb = known(b);
      if (Boolean(ra?.failed) !== Boolean(rb?.failed)) return ra?.failed ? -1 : 1;
      if (ra && rb) return ra.duration - rb.duration;
      if (ra || rb) return ra ? -1 : 1;
      return size(a) - size(b);
    });
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: QuickestFirst },
    globalSetup: ["test/helpers/global-setup.ts"],
    // Database tests on a machine shared with other work, one mutant per worker: generous, so a slow run is
    // never taken for a killed mutant (Stryker's own timeout decides when a mutant hangs).
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { extends: true, test: { name: "pglite", include: ["test/**/*.test.ts"], exclude: ["test/unit/**", ...LEFT_OUT], env: { TEST_DB: "pglite" } } },
    ],
  },
});
