// @ts-check
// `npm run test:mutation`: Stryker mutates the modules whose rules matter most and runs, for each mutant, the
// tests that cover it (vitest.stryker.config.ts: the unit and PGlite projects). README "Tests" says how to use it.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.stryker.config.ts", related: false },
  // Each mutant runs only the tests that executed it in the initial run.
  coverageAnalysis: "perTest",
  // A static mutant is one executed only while modules load or in a beforeAll hook (module constants, a test
  // file's set-up), never inside a test: Stryker would have to run every test with the modules reloaded for
  // each one. Ignored (reported as such, outside the score); one covered by a test as well runs with the
  // tests that cover it.
  ignoreStatic: true,
  // Mutants that do not type-check are dropped before any test runs (CompileError, outside the score).
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    "src/kyc/**/*.ts",
    "src/crypto/**/*.ts",
    "src/photo/**/*.ts",
    "src/plugins/auth.ts",
    "src/plugins/rate-limit.ts",
    "src/plugins/rate-limit-log.ts",
    "src/plugins/idempotency.ts",
    // the services and data access of every module (routes, schemas and views are left out)
    "src/modules/*/*-service.ts",
    "src/modules/*/*-dal.ts",
    "src/modules/kyc/tier-step.ts",
    "src/modules/analysts/password.ts",
  ],
  // Two cores: with a checker, Stryker gives half of `concurrency` (rounded up) to TypeScript checker
  // processes and the rest to test runners, so 4 gives two runners, one per core; the checkers type-check a
  // mutant in milliseconds and idle otherwise.
  concurrency: 4,
  // Database tests, a busy machine: a mutant is a timeout only when it takes its tests' time × 2.5 plus 20 s.
  timeoutMS: 20_000,
  timeoutFactor: 2.5,
  dryRunTimeoutMinutes: 30,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  // `break`: the run fails (exit 1) below this score; see README "Tests" for why it is this number.
  thresholds: { high: 90, low: 80, break: 80 },
  tempDirName: ".stryker-tmp",
  ignorePatterns: ["reports", ".data", "test-results", "coverage", "dist"],
};
