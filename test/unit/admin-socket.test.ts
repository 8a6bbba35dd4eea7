// The admin socket's wait: ordinary commands give up on a server that does not answer in time; batch
// commands (retemplate, rewrap) wait as long as they run; a server that goes away ends the wait either way.
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callAdminSocket, startAdminSocket } from "../../src/cli/admin-socket.js";

let dir: string;
let socketPath: string;
let close: () => Promise<void>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "qe-admin-sock-"));
  socketPath = path.join(dir, "admin.sock");
  // A command that takes 400 ms, standing in for a long batch.
  ({ close } = await startAdminSocket(socketPath, async (argv) => (await sleep(400), { ran: argv.join(" ") }), () => {}));
});
afterAll(async () => {
  await close();
  await rm(dir, { recursive: true, force: true });
});

describe("callAdminSocket", () => {
  it("an ordinary command times out when the server stays silent past the limit", async () => {
    await expect(callAdminSocket(socketPath, ["org", "create", "--name", "x"], 100)).rejects.toThrow(/did not answer the admin command in time/);
  });

  it.each([["enrolments", "retemplate"], ["keys", "rewrap"]])("%s %s waits for its result however long it runs", async (...argv) => {
    expect(await callAdminSocket(socketPath, argv, 100)).toEqual({ ok: true, result: { ran: argv.join(" ") } });
  });

  it("a server that dies mid-command ends a batch command's wait with an error", async () => {
    // A process that dies has its sockets closed by the kernel: the connection ends without an answer.
    const gonePath = path.join(dir, "gone.sock");
    const dying = net.createServer((conn) => setTimeout(() => conn.destroy(), 200));
    await new Promise<void>((resolve) => dying.listen(gonePath, resolve));
    try {
      await expect(callAdminSocket(gonePath, ["keys", "rewrap"], 100)).rejects.toThrow(/no answer/);
    } finally {
      dying.close();
    }
  });
});
