// Slow-header and slow-body clients (slowloris) against a real server process: cut off by the server's
// headersTimeout (10 s) and requestTimeout (30 s), while other clients are served meanwhile.
import net from "node:net";
import { afterAll, expect, it } from "vitest";
import { cleanupAll, createTenant, freePort, INGEST, newSealingKeys, request, serviceEnv, startServer, tempDir } from "./harness.js";

afterAll(cleanupAll);

interface Dripped {
  /** ms from connect until the server closed the connection. */
  cutAfterMs: number;
  /** What the server sent before closing, if anything. */
  reply: string;
  bytesSent: number;
}

/** Opens a connection, sends `head` at once, then one byte of `drip` every `everyMs` until the server hangs up. */
function drip(port: number, head: string, drip: string, everyMs: number, giveUpMs: number): Promise<Dripped> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const socket = net.connect({ host: "127.0.0.1", port });
    let reply = "";
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the slow connection open for ${giveUpMs} ms`));
    }, giveUpMs);
    socket.setEncoding("utf8").on("data", (c: string) => (reply += c));
    socket.on("error", () => {}); // a reset is one way of being cut off
    socket.on("close", () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ cutAfterMs: Date.now() - t0, reply, bytesSent: sent });
    });
    socket.on("connect", () => {
      socket.write(head);
      timer = setInterval(() => {
        if (socket.writable) socket.write(drip[sent++ % drip.length]!);
      }, everyMs);
    });
  });
}

it("cuts off a slow-header client after ~10 s and a slow-body client after ~30 s, serving others meanwhile", async () => {
  const env = serviceEnv({ port: await freePort(), dataDir: await tempDir("slow"), sealingKeys: newSealingKeys() });
  const server = await startServer(env);
  const tenant = await createTenant(env);

  // Headers that never end: one more byte of a header line every 500 ms.
  const slowHeader = drip(server.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", "abcdefghij", 500, 45_000);
  // An authenticated verdict whose complete headers are followed by a body that trickles in: one byte every
  // 500 ms of a 1000-byte body.
  const slowBody = drip(
    server.port,
    `POST ${INGEST} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${tenant.key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
    '{"a":"' + "x".repeat(990),
    500,
    50_000,
  );
  // Meanwhile the server answers everyone else promptly.
  await new Promise((r) => setTimeout(r, 2_000));
  const meanwhile = await request(server.port, "GET", "/healthz", { timeoutMs: 2_000 });
  expect(meanwhile.status).toBe(200);

  const [h, b] = await Promise.all([slowHeader, slowBody]);
  console.log(
    `[faults] slow clients: slow-header cut after ${h.cutAfterMs} ms (${h.reply.split("\r\n")[0] || "no reply"}), ` +
      `slow-body cut after ${b.cutAfterMs} ms (${b.reply.split("\r\n")[0] || "no reply"})`,
  );
  expect(h.cutAfterMs).toBeGreaterThanOrEqual(9_500);
  expect(h.cutAfterMs).toBeLessThan(14_000);
  expect(h.reply).toMatch(/^HTTP\/1\.1 408 /);
  expect(b.cutAfterMs).toBeGreaterThanOrEqual(29_500);
  expect(b.cutAfterMs).toBeLessThan(34_000);
  expect(b.reply).toMatch(/^HTTP\/1\.1 408 /);
  expect(b.bytesSent).toBeLessThan(1000); // cut off before its body was complete
  // both in the platform's error shape (src/plugins/error-handler.ts clientErrorHandler)
  for (const reply of [h.reply, b.reply]) expect(reply).toMatch(/\r\n\r\n\{"error":"request not received in time","code":"request_timeout","requestId":"req_[0-9A-Z]{26}"\}$/);
  expect((await request(server.port, "GET", "/healthz")).status).toBe(200);
});
