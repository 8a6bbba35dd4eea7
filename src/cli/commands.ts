// The admin commands: argv in, one JSON-serialisable object out. Used by the admin CLI directly, and by the
// server itself when the CLI hands it a command over the admin socket (embedded database in use).
import { parseArgs } from "node:util";
import { ValidationError } from "../errors.js";
import { FACE_MATCH_THRESHOLD_RANGE } from "../face/match-policy.js";
import type { Services } from "../services.js";
import type { KeyEnv } from "../modules/api-keys/api-keys-types.js";
import { ExternalRef } from "../modules/customers/customers-schemas.js";
import { RETENTION_DAYS_RANGE } from "../modules/retention/retention-service.js";

export const USAGE = `usage: npm run --silent admin -- <command>
  org create --name <name> [--dukcapil]
  org set --org <orgId> [--dukcapil on|off] [--limit <bucket>=<perMinute>]... [--face-match-threshold <0-100|default>]
          [--retain-raw-days <n|off>] [--retain-selfies-days <n|off>]
  key create --org <orgId> --scopes <s1,s2,...> [--env sandbox|live] [--name <label>] [--expires-in-days <n>]
  key revoke --key-id <id>
  customer create --org <orgId> [--external-ref <ref>]
  analyst create --org <orgId> --email <email> [--name <name>]
  analyst disable --id <analystId>
  customer erase --customer <customerId> --reason "<why>" [--actor <name>]
  erasure log [--customer <customerId>] [--limit <n>]
  retention sweep [--org <orgId>]
  sealing-key generate [--id <keyId>]
  keys rewrap [--batch-size <n>]
  enrolments retemplate [--org <orgId>] [--stubs-only] [--after <enrolmentId>] [--limit <n>]
  audit show --verification <ver_id> --reason "<why>" [--actor <name>]
  audit log [--verification <ver_id>] [--limit <n>]`;

export class UsageError extends Error {}

/** A result that is already JSON text and must reach stdout byte-for-byte, never re-serialised (a raw envelope). */
export class VerbatimJson {
  constructor(readonly text: string) {}
}

const defaultAuditActor = (env: NodeJS.ProcessEnv) => env.USER?.trim() || "unknown";

/** Commands that record who ran them (`--actor`, by default the OS user running the CLI). */
const RECORDS_ACTOR = new Set(["audit show", "customer erase"]);

/**
 * `audit show` and `customer erase` without --actor record the OS user running the CLI. Resolved here, on the
 * CLI's side, before the command may be handed to a running server (whose $USER is the service account).
 */
export function withDefaultAuditActor(argv: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (!RECORDS_ACTOR.has(`${argv[0]} ${argv[1]}`)) return argv;
  if (argv.some((a) => a === "--actor" || a.startsWith("--actor="))) return argv;
  return [...argv, "--actor", defaultAuditActor(env)];
}

type ArgOptions = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

function parse(args: string[], options: ArgOptions) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Record<string, string | string[] | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v.trim() === "") throw new UsageError(`--${name} is required`);
  return v;
}

/** `--retain-*-days <n|off>`: a retention window in whole days, or off (null: kept until erased). */
function retentionDays(v: unknown, flag: string): number | null | undefined {
  if (v === "off") return null;
  return wholeNumberFlag(v, flag, RETENTION_DAYS_RANGE.min, RETENTION_DAYS_RANGE.max, " of days", ", or off");
}

/** Longest key lifetime `key create` accepts (a century: anything longer is a typo, not a policy). */
export const MAX_KEY_DAYS = 36_500;

/**
 * A numeric flag: digits only (no sign, exponent, hex, fraction or padding: `Number()` would take "1e10",
 * "0x10" and " 5"), within [min, max]; anything else is a usage error, never a value the command chokes on.
 */
function wholeNumberFlag(v: unknown, flag: string, min: number, max: number, unit = "", orElse = ""): number | undefined {
  if (v === undefined) return undefined;
  const text = String(v);
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${flag} takes a whole number${unit} from ${min} to ${max}${orElse}`);
  return n;
}

function onOff(v: unknown, flag: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === "on" || v === "true") return true;
  if (v === "off" || v === "false") return false;
  throw new UsageError(`--${flag} takes on or off`);
}

/** `--face-match-threshold <0-100|default>`: the org's own threshold, or back to the platform default (null). */
function faceMatchThreshold(v: unknown): number | null | undefined {
  if (v === "default") return null;
  return wholeNumberFlag(v, "face-match-threshold", FACE_MATCH_THRESHOLD_RANGE.min, FACE_MATCH_THRESHOLD_RANGE.max, "", ", or default");
}

export async function runAdminCommand(services: Services, argv: string[]): Promise<object> {
  const [group, action, ...rest] = argv;
  const command = `${group ?? ""} ${action ?? ""}`.trim();
  switch (command) {
    case "org create": {
      const v = parse(rest, { name: { type: "string" }, dukcapil: { type: "boolean" } });
      const org = await services.orgs.create({ name: required(v, "name"), dukcapilEnabled: v.dukcapil === true });
      return { id: org.id, name: org.name, dukcapilEnabled: org.dukcapilEnabled };
    }
    case "org set": {
      const v = parse(rest, {
        org: { type: "string" },
        dukcapil: { type: "string" },
        limit: { type: "string", multiple: true },
        "face-match-threshold": { type: "string" },
        "retain-raw-days": { type: "string" },
        "retain-selfies-days": { type: "string" },
      });
      const limits: Record<string, number> = {};
      for (const spec of (v.limit as string[] | undefined) ?? []) {
        const m = /^([a-z0-9._-]+)=(\d{1,16})$/i.exec(spec);
        if (!m) throw new UsageError(`--limit takes <bucket>=<perMinute>, got "${spec}"`);
        limits[m[1]!] = Number(m[2]); // the range (and the bucket) are the org's rules: checked by the service
      }
      return services.orgs.update(required(v, "org"), {
        dukcapilEnabled: onOff(v.dukcapil, "dukcapil"),
        limits,
        faceMatchThreshold: faceMatchThreshold(v["face-match-threshold"]),
        retainRawDays: retentionDays(v["retain-raw-days"], "retain-raw-days"),
        retainSelfiesDays: retentionDays(v["retain-selfies-days"], "retain-selfies-days"),
      });
    }
    case "key create": {
      const v = parse(rest, {
        org: { type: "string" },
        scopes: { type: "string" },
        env: { type: "string" },
        name: { type: "string" },
        "expires-in-days": { type: "string" },
      });
      const env = (v.env as string | undefined) ?? "sandbox";
      if (env !== "sandbox" && env !== "live") throw new UsageError("--env takes sandbox or live");
      const days = wholeNumberFlag(v["expires-in-days"], "expires-in-days", 1, MAX_KEY_DAYS, " of days");
      const expiresAt = days === undefined ? undefined : new Date(Date.now() + days * 86_400_000);
      const key = await services.apiKeys.create({
        orgId: required(v, "org"),
        scopes: required(v, "scopes").split(","),
        env: env as KeyEnv,
        name: v.name as string | undefined,
        expiresAt,
      });
      // Exactly the documented contract; the display prefix is the key's first characters, shown here once anyway.
      return { id: key.id, key: key.key, scopes: key.scopes, env: key.env };
    }
    case "key revoke": {
      const v = parse(rest, { "key-id": { type: "string" } });
      return services.apiKeys.revoke(required(v, "key-id"));
    }
    case "customer create": {
      const v = parse(rest, { org: { type: "string" }, "external-ref": { type: "string" } });
      const ref = v["external-ref"] as string | undefined;
      if (ref !== undefined) {
        const checked = ExternalRef.safeParse(ref);
        if (!checked.success) throw new ValidationError("invalid customer", { externalRef: checked.error.issues.map((i) => i.message) });
      }
      return services.customers.create(required(v, "org"), { externalRef: ref });
    }
    case "analyst create": {
      const v = parse(rest, { org: { type: "string" }, email: { type: "string" }, name: { type: "string" } });
      // The password is generated and printed this once; only its scrypt hash is stored.
      return services.analysts.create({ orgId: required(v, "org"), email: required(v, "email"), name: v.name as string | undefined });
    }
    case "analyst disable": {
      const v = parse(rest, { id: { type: "string" } });
      return services.analysts.disable(required(v, "id"));
    }
    case "customer erase": {
      const v = parse(rest, { customer: { type: "string" }, reason: { type: "string" }, actor: { type: "string" } });
      const customerId = required(v, "customer");
      if (typeof v.reason !== "string" || v.reason.trim() === "") {
        throw new UsageError("--reason is required: every erasure is recorded with who, when and why");
      }
      return services.erasure.eraseCustomer({ customerId, reason: v.reason, actor: (v.actor as string | undefined) ?? defaultAuditActor(process.env) });
    }
    case "erasure log": {
      const v = parse(rest, { customer: { type: "string" }, limit: { type: "string" } });
      return services.erasure.log({ customerId: v.customer as string | undefined, limit: wholeNumberFlag(v.limit, "limit", 0, Number.MAX_SAFE_INTEGER) });
    }
    case "retention sweep": {
      const v = parse(rest, { org: { type: "string" } });
      // The same work as the service's background sweep, now; waits a while for one running elsewhere.
      const { erased, complete } = await services.retention.sweep({ orgId: v.org as string | undefined, waitForLeaseMs: 20_000 });
      return { erased, complete };
    }
    case "enrolments retemplate": {
      const v = parse(rest, { org: { type: "string" }, "stubs-only": { type: "boolean" }, after: { type: "string" }, limit: { type: "string" } });
      const limit = wholeNumberFlag(v.limit, "limit", 1, Number.MAX_SAFE_INTEGER);
      // Progress goes to stderr (stdout carries only the final JSON). Run by a server for the CLI, it lands in
      // the server's stderr instead; the summary still reaches the CLI.
      return services.enrolments.retemplate({
        orgId: v.org as string | undefined,
        stubsOnly: v["stubs-only"] === true,
        afterId: v.after as string | undefined,
        limit,
        onProgress: (p) => process.stderr.write(`retemplate: ${p.scanned} scanned, ${p.templated} templated, ${p.notTemplated} not, last ${p.lastId}\n`),
      });
    }
    case "audit show": {
      const v = parse(rest, { verification: { type: "string" }, reason: { type: "string" }, actor: { type: "string" } });
      const verificationId = required(v, "verification");
      if (typeof v.reason !== "string" || v.reason.trim() === "") {
        throw new UsageError("--reason is required: every access to a raw envelope is recorded with who, when and why");
      }
      const { rawText } = await services.audit.openRaw({
        verificationId,
        reason: v.reason,
        actor: (v.actor as string | undefined) ?? defaultAuditActor(process.env),
      });
      return new VerbatimJson(rawText);
    }
    case "audit log": {
      const v = parse(rest, { verification: { type: "string" }, limit: { type: "string" } });
      // digits only here; the range (1 to AUDIT_LIMITS.maxList) is the service's rule
      const limit = wholeNumberFlag(v.limit, "limit", 0, Number.MAX_SAFE_INTEGER);
      return services.audit.log({ verificationId: v.verification as string | undefined, limit });
    }
    case "keys rewrap": {
      // Re-seals every stored envelope not under the active (first) key of SEALING_KEYS; safe to re-run.
      const v = parse(rest, { "batch-size": { type: "string" } });
      return services.rewrap.rewrap({ batchSize: wholeNumberFlag(v["batch-size"], "batch-size", 1, 9999) });
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : "no command given");
  }
}
