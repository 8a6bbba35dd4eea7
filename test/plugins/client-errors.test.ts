// Requests Node's HTTP parser refuses before Fastify has a request (malformed framing, headers too large)
// are answered in the platform's error shape with a request id, and the connection is closed. URLs Fastify's
// router refuses before any hook runs (a malformed percent-escape, a path parameter over the cap) are answered
// like every other error: the platform's shape, X-Request-Id, the security headers, and no echo of the path.
// Over a real socket, and over app.inject for the router's refusals.
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

/** The headers every response carries, as a normal 404 shows them (helmet's, ours), without the per-response ones. */
async function baselineOf(): Promise<Record<string, string>> {
  const res = await ctx.app.inject({ method: "GET", url: "/no-such-route" });
  expect(res.statusCode).toBe(404);
  const { date: _d, "content-length": _l, connection: _c, "keep-alive": _k, "x-request-id": _id, ...rest } = res.headers as Record<string, string>;
  expect(rest["content-security-policy"]).toBe("default-src 'none';frame-ancestors 'none'");
  return rest;
}

const LONG = "a".repeat(201);
const ROUTER_REFUSALS: [string, string, number, string][] = [
  ["a malformed percent-escape in a parameter", "/api/identity/kyc/%zz", 400, "bad_url"],
  ["a truncated UTF-8 escape in a parameter", "/api/identity/kyc/%E0%A4%A", 400, "bad_url"],
  ["a malformed escape in an unknown path", "/%zz", 400, "bad_url"],
  ["a malformed escape mid-path", "/api/%E0%A4%A/x", 400, "bad_url"],
  ["a parameter over 200 characters", `/api/identity/kyc/${LONG}`, 414, "uri_too_long"],
  ["a parameter over 200 characters, percent-encoded", `/api/identity/kyc/${"%61".repeat(201)}`, 414, "uri_too_long"],
];

describe("router refusals", () => {
  it.each(ROUTER_REFUSALS)("%s (app.inject): the error shape, X-Request-Id, every security header, no echo of the path", async (_name, url, status, code) => {
    const baseline = await baselineOf();
    // (a long parameter is only measured where a route has one for the method: GET here)
    for (const method of status === 414 ? (["GET"] as const) : (["GET", "POST"] as const)) {
      const res = await ctx.app.inject({ method, url, headers: { "content-type": "application/json" }, payload: method === "POST" ? "{}" : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(status);
      const body = res.json();
      expect(body).toEqual({ error: expect.any(String), code, requestId: res.headers["x-request-id"] });
      expect(body.requestId).toMatch(/^req_[0-9A-Z]{26}$/);
      for (const [name, value] of Object.entries(baseline)) expect(res.headers[name], `${url}: ${name}`).toBe(value);
      expect(res.body).not.toContain(url.split("/").at(-1)!.slice(0, 20));
      expect(res.body).not.toMatch(/FST_|statusCode/);
    }
  });

  it("a caller's sane X-Request-Id is kept on a router refusal too", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/api/identity/kyc/%zz", headers: { "x-request-id": "bank-trace-0001" } });
    expect(res.statusCode).toBe(400);
    expect(res.headers["x-request-id"]).toBe("bank-trace-0001");
    expect(res.json().requestId).toBe("bank-trace-0001");
  });

  it("a parameter of exactly 200 characters is routed (here: 401 for want of a key)", async () => {
    const res = await ctx.app.inject({ method: "GET", url: `/api/identity/kyc/${"a".repeat(200)}` });
    expect(res.statusCode).toBe(401);
  });

  it.each(ROUTER_REFUSALS)("%s (real socket): the same answer", async (_name, url, status, code) => {
    const baseline = await baselineOf();
    const res = await rawHttp(`GET ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(status);
    const body = JSON.parse(res.body);
    expect(body).toEqual({ error: expect.any(String), code, requestId: res.headers["x-request-id"] });
    for (const [name, value] of Object.entries(baseline)) expect(res.headers[name], `${url}: ${name}`).toBe(value);
    expect(res.body).not.toContain(url.split("/").at(-1)!.slice(0, 20));
  });

  it("the HTTP parser's refusals carry the security headers as well", async () => {
    const baseline = await baselineOf();
    const res = await rawHttp("HELLO THERE\r\n\r\n");
    expect(res.status).toBe(400);
    for (const [name, value] of Object.entries(baseline)) {
      if (name === "content-type") continue;
      expect(res.headers[name], name).toBe(value);
    }
  });
});
