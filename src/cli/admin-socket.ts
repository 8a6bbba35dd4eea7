// A local-only channel from the admin CLI to a running server that owns the embedded database: the CLI sends
// its argv as one JSON line, the server runs the same command code and answers with one JSON line. The socket
// lives in the data directory (mode 0600): whoever can reach it could already read the database files.
import { createHash } from "node:crypto";
import { chmod, unlink } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { AppError, ValidationError } from "../errors.js";
import { UsageError, VerbatimJson } from "./commands.js";

export interface AdminReply {
  ok: boolean;
  result?: object;
  /** A result that is already JSON text, printed as is (see VerbatimJson). */
  verbatim?: string;
  error?: { message: string; kind: "usage" | "client" | "internal"; fieldErrors?: Record<string, string[]> };
}

export function adminSocketPath(dataDir: string): string {
  const inDataDir = path.join(dataDir, "admin.sock");
  // Unix socket paths are limited to ~107 bytes; a long data dir path gets a socket in the temp dir instead.
  if (Buffer.byteLength(inDataDir) < 100) return inDataDir;
  return path.join(os.tmpdir(), `qe-admin-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}.sock`);
}

export function successReply(result: object): AdminReply {
  return result instanceof VerbatimJson ? { ok: true, verbatim: result.text } : { ok: true, result };
}

export function toAdminReply(err: unknown): AdminReply {
  if (err instanceof UsageError) return { ok: false, error: { message: err.message, kind: "usage" } };
  if (err instanceof ValidationError) return { ok: false, error: { message: err.message, kind: "client", fieldErrors: err.fieldErrors } };
  if (err instanceof AppError) return { ok: false, error: { message: err.message, kind: "client" } };
  return { ok: false, error: { message: "internal error (see the server log)", kind: "internal" } };
}

export async function startAdminSocket(
  socketPath: string,
  run: (argv: string[]) => Promise<object>,
  onError: (err: unknown) => void,
): Promise<{ close(): Promise<void> }> {
  await unlink(socketPath).catch(() => {});
  const server = net.createServer((conn) => {
    let buf = "";
    conn.setEncoding("utf8");
    conn.on("error", () => {});
    conn.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.length > 64 * 1024) conn.destroy();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = "";
      void (async () => {
        let reply: AdminReply;
        try {
          const { argv } = JSON.parse(line) as { argv: unknown };
          if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string")) throw new UsageError("bad admin request");
          reply = successReply(await run(argv));
        } catch (err) {
          reply = toAdminReply(err);
          if (reply.error?.kind === "internal") onError(err);
        }
        conn.end(`${JSON.stringify(reply)}\n`);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        void unlink(socketPath).catch(() => {});
      }),
  };
}

// Batch commands run as long as the data takes (minutes for a large retemplate or rewrap) and answer only at
// the end: no idle timeout for them. A server that dies closes the socket, which still ends the wait.
const BATCH_COMMANDS = new Set(["enrolments retemplate", "keys rewrap", "customer erase", "retention sweep"]);

export function callAdminSocket(socketPath: string, argv: string[], timeoutMs = 30_000): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socketPath);
    let buf = "";
    conn.setEncoding("utf8");
    if (!BATCH_COMMANDS.has(argv.slice(0, 2).join(" "))) {
      conn.setTimeout(timeoutMs, () => conn.destroy(new Error("the server did not answer the admin command in time")));
    }
    conn.on("connect", () => conn.write(`${JSON.stringify({ argv })}\n`));
    conn.on("data", (c: string) => (buf += c));
    conn.on("error", reject);
    conn.on("end", () => {
      try {
        resolve(JSON.parse(buf) as AdminReply);
      } catch {
        reject(new Error("the server gave no answer to the admin command"));
      }
    });
  });
}
