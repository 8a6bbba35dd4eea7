// The JSON body parser, through every endpoint that takes a body: a body is valid UTF-8 (else 415), starts
// with at most one byte order mark (else 400), and repeats no member name in any object (else 400 naming
// the field), so the value the routes validate and the text the ingest stores as `raw` always agree. A
// refused body writes nothing and claims no Idempotency-Key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { b64, jpeg } from "../helpers/images.js";

const INGEST = "/api/identity/nik/dukcapil";
const CUSTOMERS = "/api/customers";
let ctx: TestContext;
let bank: Tenant;
let customerId: string;
let photo: string;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000, "customers.create": 10_000 } });
  customerId = await bank.customer();
  photo = b64(await jpeg(64, 64));
});
afterAll(() => ctx.close());

async function rowCounts() {
  const p = ctx.prisma;
  return [await p.customer.count(), await p.verification.count(), await p.faceEnrolment.count(), await p.tierEvent.count(), await p.idempotencyKey.count()];
}

const post = (url: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: "POST", url, headers: { ...bank.auth, "content-type": "application/json", ...headers }, payload: body });

/** Text around some bytes, as one body. */
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));

/** Malformed UTF-8 sequences (WHATWG / Unicode 15 §3.9): each one must refuse the whole body. */
const INVALID_UTF8: [string, number[]][] = [
  ["a lone continuation byte", [0x80]],
  ["a truncated two-byte sequence", [0xc3]],
  ["a two-byte lead before ASCII", [0xc3, 0x28]],
  ["an overlong NUL (C0 80)", [0xc0, 0x80]],
  ["an overlong slash (E0 80 AF)", [0xe0, 0x80, 0xaf]],
  ["an overlong four-byte sequence (F0 80 80 80)", [0xf0, 0x80, 0x80, 0x80]],
  ["a UTF-16 surrogate encoded (ED A0 80, CESU-8)", [0xed, 0xa0, 0x80]],
  ["a surrogate pair encoded separately", [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ["a code point above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80]],
  ["a five-byte form (F8 88 80 80 80)", [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ["the byte FE", [0xfe]],
  ["the byte FF", [0xff]],
  ["Latin-1 é (E9)", [0xe9]],
  ["a truncated four-byte sequence", [0xf0, 0x9f, 0x98]],
];

describe("JSON bodies: UTF-8 only, strictly", () => {
  it("415 for any malformed UTF-8, in a string, a name or between tokens, on every endpoint; nothing written", async () => {
    const before = await rowCounts();
    for (const [n, [name, seq]] of INVALID_UTF8.entries()) {
      const bodies: [string, string, Buffer][] = [
        [INGEST, "in reason", bytes(`{"customerId":"${customerId}","valid":false,"reason":"ok `, seq, ` ok"}`)],
        [INGEST, "in raw", bytes(`{"customerId":"${customerId}","valid":false,"raw":{"name":"`, seq, `"}}`)],
        [INGEST, "in a member name", bytes(`{"customerId":"${customerId}","valid":false,"raw":{"`, seq, `":1}}`)],
        [INGEST, "at the end", bytes(`{"customerId":"${customerId}","valid":false}`, seq)],
        [CUSTOMERS, "in externalRef", bytes('{"externalRef":"ref-', seq, '"}')],
      ];
      for (const [url, where, body] of bodies) {
        const res = await post(url, body, { "idempotency-key": `utf8-${n}-${where}` });
        expect(res.statusCode, `${url} ${name} ${where}`).toBe(415);
        expect(res.json(), `${name} ${where}`).toEqual({ error: expect.stringMatching(/not valid UTF-8/), code: "unsupported_media_type", requestId: expect.any(String) });
      }
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("a UTF-16 or UTF-32 body without a charset is not UTF-8 either: 415 or 400, never parsed", async () => {
    const json = `{"customerId":"${customerId}","valid":false}`;
    expect((await post(INGEST, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, "utf16le")]))).statusCode).toBe(415);
    expect((await post(INGEST, Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(json, "utf16le").swap16()]))).statusCode).toBe(415);
    // UTF-16 without a BOM is NUL-laden ASCII: valid UTF-8 bytes, not JSON
    expect((await post(INGEST, Buffer.from(json, "utf16le"))).json()).toMatchObject({ code: "invalid_json" });
  });

  it("valid UTF-8 of every length, noncharacters and U+FEFF inside strings included, is stored exactly as sent", async () => {
    const text = "é ü ß 中文 😀 \u{10FFFF} \uFFFF \uFEFF end";
    const rawText = `{"name":"${text}","escaped":"\\u00e9"}`;
    const res = await post(INGEST, `{"customerId":"${customerId}","valid":false,"reason":"${text}","raw":${rawText}}`);
    expect(res.statusCode, res.body).toBe(201);
    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } });
    expect(ver.reason).toBe(text);
    expect(ctx.sealer.open(ver.rawSealed!, { purpose: "verification.raw", rowId: ver.id }).toString("utf8")).toBe(rawText);
  });
});

describe("JSON bodies: at most one byte order mark", () => {
  const BOM = [0xef, 0xbb, 0xbf];

  it("one BOM is ignored, and raw is still stored exactly as sent", async () => {
    const rawText = '{"nik":"3171","bom":1}';
    const res = await post(INGEST, bytes(BOM, `{"customerId":"${customerId}","valid":false,"raw":${rawText}}`));
    expect(res.statusCode).toBe(201);
    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } });
    expect(ctx.sealer.open(ver.rawSealed!, { purpose: "verification.raw", rowId: ver.id }).toString("utf8")).toBe(rawText);
    expect((await post(CUSTOMERS, bytes(BOM, '{"externalRef":"bom-1"}'))).statusCode).toBe(201);
  });

  it("400 invalid_json for two or more BOMs, or one after whitespace, on every endpoint; nothing written", async () => {
    const before = await rowCounts();
    const verdict = `{"customerId":"${customerId}","valid":false,"raw":{"nik":"3171"}}`;
    const cases: [string, string, Buffer][] = [
      ["two BOMs", INGEST, bytes(BOM, BOM, verdict)],
      ["three BOMs", INGEST, bytes(BOM, BOM, BOM, verdict)],
      ["BOM, space, BOM", INGEST, bytes(BOM, " ", BOM, verdict)],
      ["space, then a BOM", INGEST, bytes(" ", BOM, verdict)],
      ["two BOMs before a customer", CUSTOMERS, bytes(BOM, BOM, '{"externalRef":"bom-2"}')],
    ];
    for (const [name, url, body] of cases) {
      const res = await post(url, body, { "idempotency-key": `bom-${name}` });
      expect(res.statusCode, name).toBe(400);
      expect(res.json(), name).toMatchObject({ code: "invalid_json", error: expect.any(String) });
    }
    expect((await post(INGEST, bytes(BOM, BOM, verdict))).json().error).toMatch(/more than one byte order mark/);
    expect(await rowCounts()).toEqual(before);
  });
});

describe("JSON bodies: no member name twice in one object", () => {
  it("400 naming the field for a top-level member given twice, on every endpoint; nothing written, no key claimed", async () => {
    const before = await rowCounts();
    const cases: [string, string, string][] = [
      [INGEST, "valid", `{"customerId":"${customerId}","valid":true,"photo":"${photo}","valid":false}`],
      [INGEST, "valid", `{"customerId":"${customerId}","valid":false,"reason":"x","valid":true,"photo":"${photo}"}`],
      [INGEST, "customerId", `{"customerId":"ckv8x0j2k0000qzrmn8d6h1ab","valid":false,"customerId":"${customerId}"}`],
      [INGEST, "photo", `{"customerId":"${customerId}","valid":true,"photo":"${photo}","photo":"${photo}"}`],
      [INGEST, "raw", `{"customerId":"${customerId}","valid":false,"raw":{"result":"MATCH"},"raw":{"result":"NO_MATCH"}}`],
      [INGEST, "reason", `{"customerId":"${customerId}","valid":false,"reason":"a","reason":"b"}`],
      [INGEST, "valid", `{"customerId":"${customerId}","valid":false,"v\\u0061lid":true}`],
      [INGEST, "nik", `{"customerId":"${customerId}","valid":false,"nik":1,"nik":1}`],
      [CUSTOMERS, "externalRef", '{"externalRef":"dup-a","externalRef":"dup-b"}'],
      [CUSTOMERS, "externalRef", '{"externalRef":"dup-c","extern\\u0061lRef":"dup-c"}'],
    ];
    for (const [url, field, body] of cases) {
      const res = await post(url, body, { "idempotency-key": `dup-${field}-${body.length}` });
      expect(res.statusCode, body.slice(0, 120)).toBe(400);
      expect(res.json(), body.slice(0, 120)).toEqual({
        error: "request body repeats a member name",
        code: "validation_failed",
        requestId: expect.any(String),
        details: { fieldErrors: { [field]: ["is given more than once; send each member once"] } },
      });
    }
    expect(await rowCounts()).toEqual(before);
    // the keys were not claimed: the same key with a sound body executes
    const res = await post(CUSTOMERS, '{"externalRef":"dup-after"}', { "idempotency-key": `dup-externalRef-${'{"externalRef":"dup-a","externalRef":"dup-b"}'.length}` });
    expect(res.statusCode).toBe(201);
  });

  it("400 naming the path for a member repeated inside raw (or anywhere deeper); nothing written", async () => {
    const before = await rowCounts();
    const cases: [string, string][] = [
      ['{"nik":"3171","result":"MATCH","result":"NO_MATCH"}', "raw.result"],
      ['{"person":{"name":"A","name":"B"}}', "raw.person.name"],
      ['{"history":[{"ok":1},{"ok":1,"ok":0}]}', "raw.history.1.ok"],
      ['{"a":{"b":{"c":{"d":1,"\\u0064":2}}}}', "raw.a.b.c.d"],
    ];
    for (const [rawText, field] of cases) {
      const res = await post(INGEST, `{"customerId":"${customerId}","valid":true,"photo":"${photo}","raw":${rawText}}`);
      expect(res.statusCode, rawText).toBe(400);
      expect(res.json().details.fieldErrors, rawText).toEqual({ [field]: [expect.stringMatching(/^repeats the member name ".+" in one object; send each member once$/)] });
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("the same name in different objects, or as a string value, is fine", async () => {
    const rawText = '{"result":"MATCH","person":{"result":"x","name":"result"},"list":[{"result":1},{"result":2}]}';
    const res = await post(INGEST, `{"customerId":"${customerId}","valid":true,"photo":"${photo}","raw":${rawText},"reason":"valid"}`);
    expect(res.statusCode, res.body).toBe(201);
  });

  it("a huge field name is cut in the error, which stays small", async () => {
    const name = "k".repeat(50_000);
    const res = await post(INGEST, `{"customerId":"${customerId}","valid":false,"${name}":1,"${name}":2}`);
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(1000);
    expect(Object.keys(res.json().details.fieldErrors)[0]).toMatch(/^k{100}…$/);
  });
});

describe("JSON bodies: at most 512 levels of objects and arrays", () => {
  /** `raw` holding `levels` objects one inside another, so the body nests levels + 1 deep. */
  const rawNested = (levels: number) => `{"customerId":"${customerId}","valid":false,"raw":${'{"a":'.repeat(levels - 1)}{"z":"[{"}${"}".repeat(levels - 1)}}`;

  it("a body 512 levels deep is accepted and raw stored as sent; 513 is a 400 invalid_json on every endpoint, nothing written", async () => {
    const accepted = await post(INGEST, rawNested(511));
    expect(accepted.statusCode).toBe(201);
    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: accepted.json().verification.id } });
    expect(ctx.sealer.open(ver.rawSealed!, { purpose: "verification.raw", rowId: ver.id }).toString("utf8")).toBe(`${'{"a":'.repeat(510)}{"z":"[{"}${"}".repeat(510)}`);

    const before = await rowCounts();
    const cases: [string, string, string][] = [
      ["raw one level too deep", INGEST, rawNested(512)],
      ["arrays in an unknown field", INGEST, `{"customerId":"${customerId}","valid":false,"x":${"[".repeat(512)}${"]".repeat(512)}}`],
      ["unbalanced, never closed", INGEST, `{"customerId":"${customerId}","valid":false,"raw":${"[".repeat(600)}`],
      ["a customer's external reference", CUSTOMERS, `{"externalRef":${"[".repeat(513)}${"]".repeat(513)}}`],
      ["a face match's photo", "/api/identity/face/match", `{"customerId":"${customerId}","photo":${"[".repeat(513)}${"]".repeat(513)}}`],
    ];
    for (const [name, url, body] of cases) {
      const res = await post(url, body, { "idempotency-key": `deep-${name}` });
      expect(res.statusCode, name).toBe(400);
      expect(res.json(), name).toMatchObject({ code: "invalid_json", error: "request body nests objects and arrays more than 512 levels deep" });
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("brackets inside strings, escaped quotes included, do not count", async () => {
    const res = await post(INGEST, `{"customerId":"${customerId}","valid":false,"reason":"\\"[[[{{","raw":{"s":"\\"${"[".repeat(2000)}","k\\\\":"${"{".repeat(2000)}"}}`);
    expect(res.statusCode, res.body).toBe(201);
  });

  it("an 8 MiB body nested 4 million deep is refused before it is parsed", async () => {
    const levels = 4 * 1024 * 1024 - 64;
    const res = await post(INGEST, `{"customerId":"${customerId}","valid":false,"x":${"[".repeat(levels)}${"]".repeat(levels)}}`.slice(0, 8 * 1024 * 1024 - 1));
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe("invalid_json");
    expect(res.json().error).toMatch(/more than 512 levels deep/);
  });
});
