// Requests Node's HTTP parser refuses before Fastify has a request (malformed framing, headers too large)
// are answered in the platform's error shape with a request id, and the connection is closed. Real socket.
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../helpers/app.js";

let ctx: TestContext;
let port: number;

beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.app.listen({ host: "127.0.0.1", port: 0 });
  port = (ctx.app.server.address() as AddressInfo).port;
});
afterAll(() => ctx.close());

/** Writes raw bytes and reads until the server closes the connection. */
function rawHttp(request: string): Promise<{ status: number; headers: Record<string, string>; body: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = data.split("\r\n\r\n", 2);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body, closed: true });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.write(request);
  });
}

describe("HTTP parser refusals", () => {
  it.each([
    ["a non-numeric Content-Length", "POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"],
    ["both Content-Length and Transfer-Encoding", "POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["a broken chunk size", "POST /api/customers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"],
    ["a request line that is not HTTP", "HELLO THERE\r\n\r\n"],
  ])("%s: 400 bad_request in the error shape, then the connection closes", async (_name, request) => {
    const res = await rawHttp(request);
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const body = JSON.parse(res.body);
    expect(body).toEqual({ error: "malformed HTTP request", code: "bad_request", requestId: expect.stringMatching(/^req_[0-9A-Z]{26}$/) });
    expect(res.headers["x-request-id"]).toBe(body.requestId);
    expect(res.headers.connection).toBe("close");
    expect(res.headers["cache-control"]).toBe("no-store");
  });

  it("headers over Node's limit: 431 headers_too_large", async () => {
    const res = await rawHttp(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: ${"x".repeat(20_000)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ code: "headers_too_large", requestId: expect.stringMatching(/^req_/) });
  });

  it("the server keeps serving afterwards", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
  });
});
