// Hostile input against POST /api/identity/face/match, with the real face engine: hand-picked cases and
// property-based ones (fast-check), through the harness the ingest's corpus uses (corpus.ts). For every case:
// no 5xx, and a refused request writes nothing (verifications, sealed selfies, tier events, enrolments, and no
// enrolment's template changed). The selfie is held to exactly the ingest's photo rules, so the photo cases
// are the ingest corpus's own; after the photo rules come the match's own refusals (404, 409, 422).
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaceTemplateEngine, type FaceTemplateEngine } from "../../src/face/template-engine.js";
import { createTestContext, type Tenant, type TestContext } from "../helpers/app.js";
import { b64, jpeg, png } from "../helpers/images.js";
import { setBPhoto, setMPhoto } from "../face/eval-set.js";
import { group } from "../face/photos.js";
import { badBase64, createCorpus, httpPost, MALFORMED_UTF8, malformedPhotos, overSocket, photosWithHiddenData, type Outcome } from "./corpus.js";

const URL = "/api/identity/face/match";
let engine: FaceTemplateEngine;
let ctx: TestContext;
let bank: Tenant;
let other: Tenant;
let port: number;
/** A customer of `bank` whose Dukcapil reference is a photo of the man of eval set B. */
let customerId: string;
/** Another photo of that man (201 verified), a photo of another man (201 failed), and no face at all. */
let sameMan: Buffer;
let stranger: Buffer;
let noFace: Buffer;
let noFacePng: Buffer;

const corpus = createCorpus(async () => {
  const p = ctx.prisma;
  const templates = await p.faceEnrolment.findMany({ select: { templateSealed: true, fallbackStub: true, templateModel: true } });
  // A refused match must not even re-template a reference: any enrolment's template changing counts as a row.
  const changed = templates.filter((e) => e.fallbackStub || e.templateModel !== engine.model).length;
  return [await p.verification.count(), await p.faceMatchSelfie.count(), await p.tierEvent.count(), templates.length, changed];
});
const { attempt, expectStatus } = corpus;

function inject(payload: unknown, headers: Record<string, string> = {}, tenant: () => Tenant = () => bank) {
  return async (): Promise<Outcome> => {
    const res = await ctx.app.inject({
      method: "POST",
      url: URL,
      headers: { ...tenant().auth, "content-type": "application/json", ...headers },
      payload: (typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload)) as string,
    });
    return { status: res.statusCode, body: res.body };
  };
}
const raw = overSocket(() => port);
const selfie = (photo: Buffer | string, extra: Record<string, unknown> = {}) => ({ customerId, photo: typeof photo === "string" ? photo : b64(photo), ...extra });
const fieldsOf = (out: Outcome) => Object.keys((JSON.parse(out.body) as { details?: { fieldErrors?: object } }).details?.fieldErrors ?? {});
const codeOf = (out: Outcome) => (JSON.parse(out.body) as { code: string }).code;

beforeAll(async () => {
  engine = startFaceTemplateEngine({ workers: 1, timeoutMs: 30_000 });
  ctx = await createTestContext({ face: engine });
  const limits = { "identity.nik.dukcapil": 100_000, "identity.face.match": 100_000 };
  bank = await ctx.tenant({ limits });
  other = await ctx.tenant({ limits });
  const [reference, again, otherMan] = await Promise.all([setBPhoto("r1c01"), setBPhoto("r1c02"), setMPhoto("r2c05"), engine.ready]);
  sameMan = again;
  stranger = otherMan;
  noFace = await jpeg(96, 120, { noise: true });
  noFacePng = await png(96, 120);
  customerId = await bank.customer();
  const enrolled = await bank.post("/api/identity/nik/dukcapil", { customerId, valid: true, photo: b64(reference) });
  expect(enrolled.statusCode).toBe(201);
  expect(enrolled.json().enrolment.fallbackStub).toBe(false);
  await ctx.app.listen({ host: "127.0.0.1", port: 0 });
  port = (ctx.app.server.address() as net.AddressInfo).port;
}, 120_000);

afterAll(async () => {
  console.log(corpus.report("face match"));
  await ctx?.close();
  await engine?.close();
});

describe("hostile input to the face match", () => {
  it("wrong types and missing fields: 400 naming the field", async () => {
    const good = b64(sameMan);
    const bodies: [string, unknown, string[]][] = [
      ["empty object", {}, ["customerId", "photo"]],
      ["no photo", { customerId }, ["photo"]],
      ["no customerId", { photo: good }, ["customerId"]],
      ["customerId number", { customerId: 12345, photo: good }, ["customerId"]],
      ["customerId null", { customerId: null, photo: good }, ["customerId"]],
      ["customerId array", { customerId: [customerId], photo: good }, ["customerId"]],
      ["customerId object", { customerId: { id: customerId }, photo: good }, ["customerId"]],
      ["customerId empty", { customerId: "", photo: good }, ["customerId"]],
      ["customerId 1 MB", { customerId: "c".repeat(1 << 20), photo: good }, ["customerId"]],
      ["customerId SQL", { customerId: "' OR 1=1 --", photo: good }, ["customerId"]],
      ["photo number", selfie(good, { photo: 42 }), ["photo"]],
      ["photo null", selfie(good, { photo: null }), ["photo"]],
      ["photo array", selfie(good, { photo: [good] }), ["photo"]],
      ["photo object", selfie(good, { photo: { data: good } }), ["photo"]],
      ["photo true", selfie(good, { photo: true }), ["photo"]],
      ["a verdict's fields on a match", selfie(good, { valid: true }), ["valid"]],
      ["unknown field", selfie(good, { threshold: 0 }), ["threshold"]],
      ["the score forced by the client", selfie(good, { score: 100 }), ["score"]],
    ];
    for (const [name, body, fields] of bodies) {
      const out = await expectStatus(name, inject(body), 400);
      expect(fieldsOf(out).sort(), name).toEqual(fields);
    }
    for (const [name, body] of [["number body", 1], ["string body", "selfie"], ["null body", null], ["array body", [selfie(good)]]] as const) {
      await expectStatus(name, inject(JSON.stringify(body)), 400);
    }
  });

  it("customers it cannot match: another org's or unknown is 404, none with a reference is 409", async () => {
    const theirs = await other.customer();
    await expectStatus("another org's customer", inject(selfie(sameMan, { customerId: theirs })), 404);
    await expectStatus("another org's customer with our reference's id", inject(selfie(sameMan), {}, () => other), 404);
    await expectStatus("a customer that does not exist", inject(selfie(sameMan, { customerId: "cjld2cjxh0000qzrmn831i7rn" })), 404);
    const bare = await bank.customer();
    const out = await expectStatus("a customer with no reference", inject(selfie(sameMan, { customerId: bare })), 409);
    expect(codeOf(out)).toBe("no_face_reference");
    const failed = await bank.customer();
    expect((await bank.post("/api/identity/nik/dukcapil", { customerId: failed, valid: false, reason: "NIK not found" })).statusCode).toBe(201);
    await expectStatus("a customer whose Dukcapil check failed (no photo enrolled)", inject(selfie(sameMan, { customerId: failed })), 409);
  });

  it("huge, deep and malformed JSON", async () => {
    const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
    const good = b64(sameMan);
    const cases: [string, string, number][] = [
      ["body over the 8 MiB cap", `{"customerId":"${customerId}","photo":"${"A".repeat(8 * 1024 * 1024)}"}`, 413],
      ["unknown field nested 1M deep", `{"customerId":"${customerId}","photo":"${good}","x":${deep(1_000_000)}}`, 400],
      ["photo nested 100k deep", `{"customerId":"${customerId}","photo":${deep(100_000)}}`, 400],
      ["100k unknown fields", `{"customerId":"${customerId}",${Array.from({ length: 100_000 }, (_, i) => `"k${i}":0`).join(",")}}`, 400],
      ["truncated JSON", `{"customerId":"${customerId}","photo":"${good.slice(0, 100)}`, 400],
      ["trailing garbage", `{"customerId":"${customerId}","photo":"${good}"}xyz`, 400],
      ["two JSON documents", `{"customerId":"${customerId}","photo":"${good}"}{"a":1}`, 400],
      ["JSON with comments", `{"customerId":"${customerId}", /* c */ "photo":"${good}"}`, 400],
      ["NUL in customerId", `{"customerId":"a\\u0000b","photo":"${good}"}`, 400],
      ["lone surrogate in customerId", `{"customerId":"\\ud800","photo":"${good}"}`, 400],
      ["only whitespace", " \n\t ", 400],
      ["__proto__ at the top", `{"__proto__":{"customerId":"x"},"customerId":"${customerId}","photo":"${good}"}`, 400],
      ["constructor.prototype at the top", `{"constructor":{"prototype":{"x":1}},"customerId":"${customerId}","photo":"${good}"}`, 400],
    ];
    for (const [name, body, expected] of cases) await expectStatus(name, inject(body), expected);
  });

  it("bad base64 and photos the ingest's rules refuse: 400 on photo, before the engine", async () => {
    for (const [name, photo] of badBase64(noFace)) {
      const out = await expectStatus(`base64: ${name}`, inject(selfie(photo)), 400);
      expect(fieldsOf(out), name).toEqual(["photo"]);
    }
    const tooBig = await expectStatus("base64 of 5 MiB + 1 of zeros", inject(selfie(Buffer.alloc(5 * 1024 * 1024 + 1).toString("base64"))), 413);
    expect(JSON.parse(tooBig.body)).toMatchObject({ code: "payload_too_large", error: "photo exceeds 5242880 bytes" });
    for (const [name, bytes] of await malformedPhotos(noFace, noFacePng)) await expectStatus(`malformed: ${name}`, inject(selfie(bytes)), 400);
    // A face photo with something after its end, or a hidden frame, never reaches the engine either.
    for (const [name, bytes] of await photosWithHiddenData(sameMan, noFacePng)) {
      const out = await expectStatus(`hidden data: ${name}`, inject(selfie(bytes)), 400);
      expect(fieldsOf(out), name).toEqual(["photo"]);
    }
  });

  it("selfies the engine cannot use: 422 no_face or multiple_faces", async () => {
    for (const [name, photo] of [["noise JPEG", noFace], ["flat PNG", noFacePng], ["a 64 px JPEG", await jpeg(64, 64)]] as const) {
      const out = await expectStatus(`no face: ${name}`, inject(selfie(photo)), 422);
      expect(codeOf(out), name).toBe("no_face");
    }
    const out = await expectStatus("a group photo", inject(selfie(await group())), 422);
    expect(codeOf(out)).toBe("multiple_faces");
  });

  it("content types, encodings, byte order marks and repeated members", async () => {
    const body = JSON.stringify(selfie(noFace));
    const cases: [string, () => Promise<Outcome>, number][] = [
      ["text/plain", inject(body, { "content-type": "text/plain" }), 415],
      ["multipart", inject(body, { "content-type": "multipart/form-data; boundary=x" }), 415],
      ["charset latin1 declared", inject(body, { "content-type": "application/json; charset=iso-8859-1" }), 415],
      ["UTF-16LE body with BOM", inject(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, "utf16le")])), 415],
      ["Content-Encoding gzip", inject(body, { "content-encoding": "gzip" }), 415],
      ["two BOMs", inject(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from(body)])), 400],
    ];
    for (const [name, send, expected] of cases) await expectStatus(name, send, expected);
    for (const [name, seq] of MALFORMED_UTF8) {
      await expectStatus(`invalid UTF-8 (${name}) in customerId`, inject(Buffer.concat([Buffer.from('{"customerId":"'), Buffer.from(seq), Buffer.from(`","photo":"${b64(noFace)}"}`)])), 415);
      await expectStatus(`invalid UTF-8 (${name}) in the photo`, inject(Buffer.concat([Buffer.from(`{"customerId":"${customerId}","photo":"${b64(noFace)}`), Buffer.from(seq), Buffer.from('"}')])), 415);
    }
    const repeated: [string, string, string][] = [
      ["two customers", `{"customerId":"cjld2cjxh0000qzrmn831i7rn","photo":"${b64(sameMan)}","customerId":"${customerId}"}`, "customerId"],
      ["two photos, the stranger's last", `{"customerId":"${customerId}","photo":"${b64(sameMan)}","photo":"${b64(stranger)}"}`, "photo"],
      ["photo spelled with an escape", `{"customerId":"${customerId}","photo":"${b64(sameMan)}","\\u0070hoto":"${b64(stranger)}"}`, "photo"],
    ];
    for (const [name, text, field] of repeated) {
      const out = await expectStatus(`duplicate: ${name}`, inject(text), 400);
      expect(JSON.parse(out.body).details.fieldErrors, name).toEqual({ [field]: ["is given more than once; send each member once"] });
    }
  });

  it("idempotency keys: malformed or repeated headers are 400; a key reused for another selfie is 409", async () => {
    await expectStatus("an Idempotency-Key with a control character", inject(selfie(noFace), { "idempotency-key": "a\u0001b" }), 400);
    await expectStatus("an Idempotency-Key of 256 characters", inject(selfie(noFace), { "idempotency-key": "k".repeat(256) }), 400);
    const key = `hostile-${Date.now()}`;
    const first = await expectStatus("a match with a key", inject(selfie(stranger), { "idempotency-key": key }), 201);
    expect(JSON.parse(first.body).verification.status).toBe("failed");
    const replay = await expectStatus("the same match replayed", inject(selfie(stranger), { "idempotency-key": key }), 201);
    expect(JSON.parse(replay.body).verification.id).toBe(JSON.parse(first.body).verification.id);
    const reused = await expectStatus("the key with another selfie", inject(selfie(sameMan), { "idempotency-key": key }), 409);
    expect(codeOf(reused)).toBe("idempotency_key_reused");
  });

  it("duplicate, oversized and lying headers over a real socket", async () => {
    const body = JSON.stringify(selfie(noFace));
    const auth = `Authorization: ${bank.auth.authorization}`;
    const json = "Content-Type: application/json";
    const len = `Content-Length: ${Buffer.byteLength(body)}`;
    const request = (head: string[], b: string = body) => raw(httpPost(URL, head, b));
    const cases: [string, () => Promise<Outcome>, number][] = [
      ["baseline over the socket (no face)", request([auth, json, len]), 422],
      ["duplicate Content-Length, different values", request([auth, json, len, "Content-Length: 5"]), 400],
      ["Content-Length and Transfer-Encoding", request([auth, json, len, "Transfer-Encoding: chunked"]), 400],
      ["Content-Length shorter than the body", request([auth, json, "Content-Length: 10"]), 400],
      ["duplicate Authorization, bad key first", request(["Authorization: Bearer qe_sk_sandbox_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", auth, json, len]), 401],
      ["duplicate Idempotency-Key", request([auth, json, len, "Idempotency-Key: a-1", "Idempotency-Key: a-2"]), 400],
      ["oversized header (20 KB)", request([auth, json, len, `X-Junk: ${"x".repeat(20_000)}`]), 431],
      ["chunked body with a bad chunk size", request([auth, json, "Transfer-Encoding: chunked"], "zz\r\n{}\r\n0\r\n\r\n"), 400],
      ["chunked body, the same man", request([auth, json, "Transfer-Encoding: chunked"], ((b) => `${Buffer.byteLength(b).toString(16)}\r\n${b}\r\n0\r\n\r\n`)(JSON.stringify(selfie(sameMan)))), 201],
    ];
    for (const [name, send, expected] of cases) await expectStatus(name, send, expected);
  });

  // ------------------------------------------------------------------------------- property-based

  const json = fc.jsonValue({ maxDepth: 4 });

  it("property: arbitrary JSON bodies and field values", async () => {
    await fc.assert(
      fc.asyncProperty(json, async (body) => {
        await attempt(`body ${JSON.stringify(body).slice(0, 80)}`, inject(JSON.stringify(body)));
      }),
      { numRuns: 30 },
    );
    const fields = fc.record(
      {
        customerId: fc.oneof(fc.constant(customerId), fc.string(), json),
        photo: fc.oneof(fc.constant(b64(noFace)), fc.base64String({ maxLength: 200 }), fc.string(), json),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fields, fc.dictionary(fc.string(), json, { maxKeys: 2 }), async (f, extra) => {
        await attempt(`fields ${JSON.stringify(f).slice(0, 80)}`, inject({ ...extra, ...f }));
      }),
      { numRuns: 50 },
    );
  });

  it("property: anything appended to a face photo is refused on photo", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.boolean(), async (tail, eoiAgain) => {
        const bytes = Buffer.concat([sameMan, Buffer.from(tail), eoiAgain ? Buffer.from([0xff, 0xd9]) : Buffer.alloc(0)]);
        const out = await attempt(`face photo + ${tail.length} bytes`, inject(selfie(bytes)));
        if (out.status !== 400 || !fieldsOf(out).includes("photo")) throw new Error(`face photo + tail: ${out.status} ${out.body.slice(0, 200)}`);
      }),
      { numRuns: 25 },
    );
  });

  it("property: mutated face photos (flipped, cut, spliced bytes) are matched or refused, never a 5xx", async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(sameMan.length - 1), value: fc.nat(255) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat(sameMan.length - 1), value: fc.constant(0) }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(sameMan.length - 1), value: fc.nat(255) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
        let b = Buffer.from(sameMan);
        for (const m of ms) {
          const at = Math.min(m.at, b.length - 1);
          if (m.kind === "set") b[at] = m.value;
          else if (m.kind === "cut") b = b.subarray(0, Math.max(at, 4));
          else b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value, m.value]), b.subarray(at)]);
        }
        const out = await attempt(`mutated ${JSON.stringify(ms)}`, inject(selfie(b)));
        // Which mutations still decode (and still show the face) is not known in advance; a refusal, though, is
        // the photo's, or the engine's verdict on it.
        const onPhoto = out.status === 400 && fieldsOf(out).join() === "photo";
        const noUsableFace = out.status === 422 && ["no_face", "multiple_faces"].includes(codeOf(out));
        if (out.status !== 201 && !onPhoto && !noUsableFace) throw new Error(`mutated ${JSON.stringify(ms)}: ${out.status} ${out.body.slice(0, 200)}`);
      }),
      { numRuns: 30 },
    );
  });

  it("afterwards: healthy, and a genuine match still verifies", async () => {
    expect((await ctx.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    const out = await expectStatus("the same man, after the storm", inject(selfie(sameMan)), 201);
    expect(JSON.parse(out.body).verification.status).toBe("verified");
    // Every recorded match has its sealed selfie, and only recorded matches have one.
    expect(await ctx.prisma.faceMatchSelfie.count()).toBe(await ctx.prisma.verification.count({ where: { method: "face_match" } }));
  });
});
