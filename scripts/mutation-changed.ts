// npm run test:mutation:changed — Stryker (stryker.config.mjs, its thresholds included) over just the files
// under mutation that changed since the last full run, which CI runs: the full run takes longer than CI's
// budget on two cores (README "Tests"). The last full run is the newest `mutation-*` tag, or else the commit
// named in .ci/mutation-baseline (a clone may come without tags). Nothing changed: nothing to mutate, exit 0.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();

function baseline(): { rev: string; from: string } {
  try {
    const tag = git("describe", "--tags", "--abbrev=0", "--match", "mutation-*");
    return { rev: tag, from: `tag ${tag}` };
  } catch {
    const file = path.join(ROOT, ".ci/mutation-baseline");
    if (!existsSync(file)) throw new Error("mutation: no mutation-* tag and no .ci/mutation-baseline: run `npm run test:mutation` in full first");
    const rev = readFileSync(file, "utf8").trim();
    return { rev, from: `.ci/mutation-baseline (${rev.slice(0, 12)})` };
  }
}

/** A glob of stryker.config.mjs's `mutate` (`**` any folders, `*` within a name) as a regular expression. */
const globToRegExp = (glob: string) =>
  new RegExp(
    `^${glob
      .split("**/")
      .map((part) => part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*"))
      .join("(?:.*/)?")}$`,
  );

const { default: config } = (await import(path.join(ROOT, "stryker.config.mjs"))) as { default: { mutate: string[] } };
const patterns = config.mutate.map(globToRegExp);
const { rev, from } = baseline();
try {
  git("cat-file", "-e", `${rev}^{commit}`);
} catch {
  console.error(`mutation: the last full run's commit ${rev} is not in this clone (shallow?): cannot tell what changed; nothing mutated`);
  process.exit(0);
}
const changed = git("diff", "--name-only", "--diff-filter=AMR", `${rev}...HEAD`)
  .split("\n")
  .filter((file) => file && patterns.some((p) => p.test(file)));
if (changed.length === 0) {
  console.log(`mutation: no file under mutation changed since ${from}; nothing to mutate`);
  process.exit(0);
}
console.log(`mutation: ${changed.length} file(s) under mutation changed since ${from}: ${changed.join(", ")}`);
const run = spawnSync("npx", ["stryker", "run", "--mutate", changed.join(",")], { cwd: ROOT, stdio: "inherit" });
process.exit(run.status ?? 1);
