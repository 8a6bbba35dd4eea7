// Admin commands that need neither the database nor a valid configuration: they run before either is loaded
// (a production host without SEALING_KEYS must still be able to make its first key).
import { parseArgs } from "node:util";
import { generateSealingKeyEntry } from "../crypto/seal.js";
import { toAdminReply, type AdminReply } from "./admin-socket.js";
import { UsageError } from "./commands.js";

/** The command's reply, or undefined when argv is not an offline command. */
export function runOfflineCommand(argv: string[]): AdminReply | undefined {
  const [group, action, ...rest] = argv;
  if (group !== "sealing-key" || action !== "generate") return undefined;
  try {
    let id: string | undefined;
    try {
      id = parseArgs({ args: rest, options: { id: { type: "string" } }, strict: true }).values.id;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (id !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new UsageError("--id may contain only letters, digits and . _ - (at most 64)");
    // Printed once, to stdout only: the operator puts it into their secret store as (part of) SEALING_KEYS.
    return { ok: true, result: { entry: id === undefined ? generateSealingKeyEntry() : generateSealingKeyEntry(id) } };
  } catch (err) {
    return toAdminReply(err);
  }
}
