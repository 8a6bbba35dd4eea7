import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faceEngineOff } from "../../src/face/engine.js";
import { createTestContext, type TestContext, type Tenant } from "../helpers/app.js";
import { apng, b64, jpeg, jpegInsert, markerAt, mpfSegment, png, tinyZip } from "../helpers/images.js";
import { newId } from "../../src/ids.js";
import { customersDal } from "../../src/modules/customers/customers-dal.js";

const URL = "/api/identity/nik/dukcapil";
let ctx: TestContext;
let bank: Tenant;
let photo: string;

beforeAll(async () => {
  ctx = await createTestContext();
  bank = await ctx.tenant({ limits: { "identity.nik.dukcapil": 10_000 } });
  photo = b64(await jpeg());
});
afterAll(() => ctx.close());

async function rowCounts() {
  const p = ctx.prisma;
  return {
    verifications: await p.verification.count(),
    enrolments: await p.faceEnrolment.count(),
    tierEvents: await p.tierEvent.count(),
  };
}

describe("POST /api/identity/nik/dukcapil: verdicts", () => {
  it("records a verified verdict, enrols the photo and raises the tier to standard", async () => {
    const customerId = await bank.customer();
    const res = await bank.post(URL, { customerId, valid: true, photo, raw: { nik: "3171", result: "MATCH" } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(["enrolment", "verification"]);
    expect(body.verification).toEqual({ id: expect.stringMatching(/^ver_[0-9A-Z]{26}$/), status: "verified", score: 100 });
    expect(body.enrolment).toEqual({ id: expect.stringMatching(/^fe_[0-9A-Z]{26}$/), source: "dukcapil", fallbackStub: true });

    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: body.verification.id } });
    expect(ver).toMatchObject({ method: "nik_dukcapil", status: "verified", score: 100, customerId, orgId: bank.orgId, apiKeyId: bank.keyId });
    expect(ver.requestId).toBe(res.headers["x-request-id"]);
    const fe = await ctx.prisma.faceEnrolment.findUniqueOrThrow({ where: { id: body.enrolment.id } });
    expect(fe).toMatchObject({ source: "dukcapil", mediaType: "image/jpeg", width: 400, height: 500, fallbackStub: true, verificationId: ver.id });
    expect(ctx.sealer.open(fe.photoSealed!, { purpose: "face_enrolment.photo", rowId: fe.id }).toString("base64")).toBe(photo);

    const customer = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
    expect(customer.kycTier).toBe("standard");
    expect(customer.kycLastVerifiedAt?.toISOString()).toBe(ver.createdAt.toISOString());
    const events = await ctx.prisma.tierEvent.findMany({ where: { customerId } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ fromTier: "none", toTier: "standard", verificationId: ver.id });
    expect(events[0]!.id).toMatch(/^kte_/);
  });

  it("records a declined verdict with its reason and changes nothing else", async () => {
    const customerId = await bank.customer();
    const res = await bank.post(URL, { customerId, valid: false, reason: "NIK not found in central registry" });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ verification: { id: expect.stringMatching(/^ver_/), status: "failed" }, enrolment: null });
    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } });
    expect(ver).toMatchObject({ status: "failed", score: null, reason: "NIK not found in central registry", rawSealed: null });
    const customer = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
    expect(customer.kycTier).toBe("none");
    expect(customer.kycLastVerifiedAt).toBeNull();
    expect(await ctx.prisma.tierEvent.count({ where: { customerId } })).toBe(0);
    expect(await ctx.prisma.faceEnrolment.count({ where: { customerId } })).toBe(0);
  });

  it("does not keep the photo of a declined verdict", async () => {
    const customerId = await bank.customer();
    const res = await bank.post(URL, { customerId, valid: false, photo });
    expect(res.statusCode).toBe(201);
    expect(await ctx.prisma.faceEnrolment.count({ where: { customerId } })).toBe(0);
  });

  it("raises to premium when the customer already has a verified face match", async () => {
    const customerId = await bank.customer();
    await ctx.prisma.verification.create({
      data: { id: newId.verification(), orgId: bank.orgId, customerId, method: "face_match", status: "verified", score: 93 },
    });
    const res = await bank.post(URL, { customerId, valid: true, photo });
    expect(res.statusCode).toBe(201);
    const customer = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
    expect(customer.kycTier).toBe("premium");
    const events = await ctx.prisma.tierEvent.findMany({ where: { customerId } });
    expect(events.map((e) => [e.fromTier, e.toTier])).toEqual([["none", "premium"]]);
  });

  it("a second verified verdict supersedes the older dukcapil enrolment and writes no tier event", async () => {
    const customerId = await bank.customer();
    const first = (await bank.post(URL, { customerId, valid: true, photo })).json();
    const second = (await bank.post(URL, { customerId, valid: true, photo: b64(await png()) })).json();
    const rows = await ctx.prisma.faceEnrolment.findMany({ where: { customerId }, orderBy: { createdAt: "asc" } });
    expect(rows.map((r) => r.id)).toEqual([first.enrolment.id, second.enrolment.id]);
    expect(rows[0]).toMatchObject({ supersededById: second.enrolment.id });
    expect(rows[0]!.supersededAt).not.toBeNull();
    expect(rows[1]).toMatchObject({ supersededById: null, supersededAt: null, mediaType: "image/png" });
    expect(await ctx.prisma.tierEvent.count({ where: { customerId } })).toBe(1);
  });

  it("a declined verdict after a verified one never lowers the tier", async () => {
    const customerId = await bank.customer();
    await bank.post(URL, { customerId, valid: true, photo });
    expect((await bank.post(URL, { customerId, valid: false, reason: "declined" })).statusCode).toBe(201);
    expect((await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).kycTier).toBe("standard");
  });

  it("never lowers a stored tier the history alone would not reach (tiers never drop automatically)", async () => {
    // A customer made premium before this history existed (an earlier rule, a migration): a verified verdict
    // makes them eligible for standard only, and must neither lower the stored tier nor write an event.
    const customerId = await bank.customer();
    await ctx.prisma.customer.update({ where: { id: customerId }, data: { kycTier: "premium" } });
    expect((await bank.post(URL, { customerId, valid: true, photo })).statusCode).toBe(201);
    expect((await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).kycTier).toBe("premium");
    expect(await ctx.prisma.tierEvent.count({ where: { customerId } })).toBe(0);
  });

  it("stores raw byte-for-byte as sent, sealed to its row", async () => {
    const customerId = await bank.customer();
    const rawText = '{ "nik":"3171012345678901", "score": 1.0, "nested": {"b":2,"a":[1,2e3]} , "unicode":"\\u00e9é"}';
    const payload = `{"customerId":"${customerId}","valid":true,"raw":${rawText},"photo":"${photo}"}`;
    const res = await bank.post(URL, payload);
    expect(res.statusCode).toBe(201);
    const ver = await ctx.prisma.verification.findUniqueOrThrow({ where: { id: res.json().verification.id } });
    expect(ctx.sealer.open(ver.rawSealed!, { purpose: "verification.raw", rowId: ver.id }).toString("utf8")).toBe(rawText);
    // bound to its row and purpose: the same bytes do not open as another row's or as a photo
    expect(() => ctx.sealer.open(ver.rawSealed!, { purpose: "verification.raw", rowId: newId.verification() })).toThrow();
    expect(() => ctx.sealer.open(ver.rawSealed!, { purpose: "face_enrolment.photo", rowId: ver.id })).toThrow();
  });

  it("never stores the photo, the raw envelope or the API key in clear", async () => {
    const customerId = await bank.customer();
    const marker = `RAW-MARKER-${Date.now()}`;
    const img = await jpeg(300, 300, { noise: true });
    const res = await bank.post(URL, { customerId, valid: true, photo: b64(img), raw: { marker } });
    expect(res.statusCode).toBe(201);
    const dump = await ctx.prisma.$queryRawUnsafe<{ t: string }[]>(
      `SELECT string_agg(t, '') AS t FROM (
         SELECT encode(raw_sealed, 'hex') || coalesce(reason, '') || request_id AS t FROM verifications
         UNION ALL SELECT encode(photo_sealed, 'hex') FROM face_enrolments
         UNION ALL SELECT encode(hash, 'hex') || prefix || array_to_string(scopes, ',') FROM api_keys) x`,
    );
    const all = dump[0]!.t;
    expect(all).not.toContain(Buffer.from(marker).toString("hex"));
    expect(all).not.toContain(img.subarray(100, 164).toString("hex"));
    expect(all).not.toContain(bank.key);
    expect(all).not.toContain(Buffer.from(bank.key).toString("hex"));
  });
});

describe("POST /api/identity/nik/dukcapil: refusals", () => {
  it("404 for an unknown customer and for another org's customer, writing nothing", async () => {
    const other = await ctx.tenant();
    const theirs = await other.customer();
    const before = await rowCounts();
    for (const customerId of [theirs, "cjld2cjxh0000qzrmn831i7rn"]) {
      const res = await bank.post(URL, { customerId, valid: true, photo });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: "customer not found" });
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("another org's customer is refused before any photo work (the cheap tenancy pre-check, on its own)", async () => {
    // Without the pre-check the locked query would still refuse, but only after the photo was decoded and
    // inspected: a photo the rules refuse would then answer 400 instead of 404.
    const other = await ctx.tenant();
    const theirs = await other.customer();
    const res = await bank.post(URL, { customerId: theirs, valid: true, photo: b64(Buffer.from("not an image at all")) });
    expect(res.statusCode).toBe(404);
    const mine = await bank.customer();
    expect((await bank.post(URL, { customerId: mine, valid: true, photo: b64(Buffer.from("not an image at all")) })).statusCode).toBe(400);
  });

  it("the row-locking query checks tenancy on its own", async () => {
    // The second half of the pair: even called with a customer that exists, another org's lock finds nothing.
    const other = await ctx.tenant();
    const theirs = await other.customer();
    await ctx.prisma.$transaction(async (tx) => {
      expect(await customersDal.lockInOrg(tx, bank.orgId, theirs)).toBeUndefined();
      expect(await customersDal.lockInOrg(tx, other.orgId, theirs)).toMatchObject({ id: theirs, kycTier: "none" });
    });
    // and through the service: the pre-check passed, then (while the photo was being templated, before the
    // transaction) the customer stopped being the caller's. Only the lock's own check can refuse now.
    let during = async () => {};
    const racing = await createTestContext({ face: { ...faceEngineOff, template: async (p, o) => (await during(), faceEngineOff.template(p, o)) } });
    try {
      const mine = await racing.tenant();
      const elsewhere = await racing.tenant();
      const moved = await mine.customer();
      during = async () => {
        await racing.prisma.customer.update({ where: { id: moved }, data: { orgId: elsewhere.orgId } });
      };
      const counts = async () => [await racing.prisma.verification.count(), await racing.prisma.faceEnrolment.count(), await racing.prisma.tierEvent.count()];
      const before = await counts();
      const res = await mine.post(URL, { customerId: moved, valid: true, photo });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: "customer not found", code: "not_found" });
      expect(await counts()).toEqual(before);
    } finally {
      await racing.close();
    }
  });

  it("400 with field errors for a bad body", async () => {
    const customerId = await bank.customer();
    const cases: [unknown, string][] = [
      [{ valid: true, photo }, "customerId"],
      [{ customerId: "not a cuid!", valid: true, photo }, "customerId"],
      [{ customerId, valid: "true", photo }, "valid"],
      [{ customerId, valid: 1, photo }, "valid"],
      [{ customerId, photo }, "valid"],
      [{ customerId, valid: true }, "photo"],
      [{ customerId, valid: true, photo: `data:image/jpeg;base64,${photo}` }, "photo"],
      [{ customerId, valid: true, photo: "abc" }, "photo"],
      [{ customerId, valid: true, photo: `${photo.slice(0, 40)}\n${photo.slice(40)}` }, "photo"],
      [{ customerId, valid: true, photo, raw: [1, 2] }, "raw"],
      [{ customerId, valid: true, photo, raw: "text" }, "raw"],
      [{ customerId, valid: false, reason: "x".repeat(501) }, "reason"],
      [{ customerId, valid: false, nik: "3171" }, "nik"],
    ];
    const before = await rowCounts();
    for (const [payload, field] of cases) {
      const res = await bank.post(URL, payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      const body = res.json();
      expect(body.error).toEqual(expect.any(String));
      expect(body.details.fieldErrors[field], `${field}: ${JSON.stringify(body)}`).toEqual(expect.arrayContaining([expect.any(String)]));
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("400 for malformed JSON, a non-object body and prototype-poisoning keys", async () => {
    for (const payload of ["{", "[1]", "null", '"x"', '{"__proto__":{"x":1}}', `{"customerId":"x","valid":false,"raw":{"constructor":{"prototype":{}}}}`]) {
      const res = await bank.post(URL, payload);
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().error).toEqual(expect.any(String));
    }
  });

  it("415 for a content type other than JSON", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "multipart/form-data; boundary=x"]) {
      const res = await bank.post(URL, "customerId=x", { "content-type": type });
      expect(res.statusCode, type).toBe(415);
      expect(res.json().error).toMatch(/application\/json/);
    }
  });

  it("413 for a body over the cap and for a photo over its cap", async () => {
    const customerId = await bank.customer();
    const huge = "A".repeat(8 * 1024 * 1024 + 10);
    const res = await bank.post(URL, `{"customerId":"${customerId}","valid":true,"photo":"${huge}"}`);
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toEqual(expect.any(String));
    // A photo of 5 MiB + 3 bytes fits the body cap but not the photo cap.
    const big = Buffer.alloc(5 * 1024 * 1024 + 3, 1);
    big.set([0xff, 0xd8, 0xff]);
    const res2 = await bank.post(URL, { customerId, valid: true, photo: b64(big) });
    expect(res2.statusCode).toBe(413);
    const res3 = await bank.post(URL, { customerId, valid: true, photo, raw: { pad: "x".repeat(300 * 1024) } });
    expect(res3.statusCode).toBe(413);
  });

  it("refuses photos that are not a sound JPEG or PNG of sane size", async () => {
    const customerId = await bank.customer();
    const good = await jpeg(400, 500, { noise: true });
    const pngBytes = await png(200, 200);
    const mislabelled = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), pngBytes.subarray(3)]);
    // Out-of-sequence restart markers in the entropy-coded data: libjpeg reports corrupt data.
    const markers = Buffer.alloc(2000);
    for (let i = 0; i < markers.length; i += 2) markers.set([0xff, 0xd0 + ((i / 2) % 8)], i);
    const gif = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
    const cases: [string, Buffer][] = [
      ["truncated jpeg", good.subarray(0, Math.floor(good.length / 2))],
      ["corrupt jpeg", Buffer.concat([good.subarray(0, 1000), markers, good.subarray(3000)])],
      ["not an image", Buffer.from("hello world, this is not a picture at all")],
      ["gif", gif],
      ["signature mismatch", mislabelled],
      ["too small", await jpeg(63, 200)],
      ["too large", await jpeg(4097, 64)],
    ];
    const before = await rowCounts();
    for (const [name, bytes] of cases) {
      const res = await bank.post(URL, { customerId, valid: true, photo: b64(bytes) });
      expect(res.statusCode, name).toBe(400);
      expect(res.json().details.fieldErrors.photo, name).toHaveLength(1);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("refuses bytes after the image's end and more than one frame, with a photo field error, writing nothing", async () => {
    const customerId = await bank.customer();
    const good = await jpeg(400, 500, { noise: true });
    const goodPng = await png(200, 200);
    const html = Buffer.from("<html><script>alert(1)</script></html>");
    const eoi = Buffer.from([0xff, 0xd9]);
    const iend = goodPng.subarray(goodPng.length - 12);
    const sof = markerAt(good, 0xc0);
    const cases: [string, Buffer][] = [
      ["JPEG + HTML + FF D9", Buffer.concat([good, html, eoi])],
      ["JPEG + a second JPEG", Buffer.concat([good, await jpeg(64, 64)])],
      ["JPEG + ZIP whose comment ends in FF D9", Buffer.concat([good, tinyZip(Buffer.concat([Buffer.from("note"), eoi]))])],
      ["JPEG + NUL padding", Buffer.concat([good, Buffer.alloc(8)])],
      ["PNG + HTML + another IEND chunk", Buffer.concat([goodPng, html, iend])],
      ["animated PNG", apng(goodPng, await png(200, 200))],
      ["JPEG with two frames", jpegInsert(good, good.subarray(sof, sof + 2 + good.readUInt16BE(sof + 2)))],
      ["MPF multi-picture JPEG", jpegInsert(good, mpfSegment())],
    ];
    const before = await rowCounts();
    for (const [name, bytes] of cases) {
      const res = await bank.post(URL, { customerId, valid: true, photo: b64(bytes), raw: { case: name } });
      expect(res.statusCode, name).toBe(400);
      expect(res.json(), name).toMatchObject({ code: "validation_failed", details: { fieldErrors: { photo: [expect.any(String)] } } });
      expect(Object.keys(res.json().details.fieldErrors), name).toEqual(["photo"]);
    }
    expect(await rowCounts()).toEqual(before);
    expect((await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).kycTier).toBe("none");
    // the same images alone are accepted
    expect((await bank.post(URL, { customerId, valid: true, photo: b64(good) })).statusCode).toBe(201);
    expect((await bank.post(URL, { customerId, valid: true, photo: b64(goodPng) })).statusCode).toBe(201);
  });

  it("refuses a decompression bomb from its header, quickly", async () => {
    const customerId = await bank.customer();
    // A tiny PNG that claims 30000 x 30000 pixels.
    const sharp = (await import("sharp")).default;
    const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#000" } }).png().toBuffer();
    const bomb = Buffer.from(small);
    bomb.writeUInt32BE(30000, 16);
    bomb.writeUInt32BE(30000, 20);
    const t = performance.now();
    const res = await bank.post(URL, { customerId, valid: true, photo: b64(bomb) });
    expect(res.statusCode).toBe(400);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it("rolls everything back when a write fails mid-transaction", async () => {
    const customerId = await bank.customer();
    // Make the tier-event insert fail: a trigger that raises on this customer's tier events.
    await ctx.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION qe_test_fail() RETURNS trigger AS $$
      BEGIN IF NEW.customer_id = '${customerId}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await ctx.prisma.$executeRawUnsafe(`CREATE TRIGGER qe_test_fail BEFORE INSERT ON tier_events FOR EACH ROW EXECUTE FUNCTION qe_test_fail()`);
    try {
      const before = await rowCounts();
      const res = await bank.post(URL, { customerId, valid: true, photo, raw: { a: 1 } });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ error: "internal error", code: "internal", requestId: expect.any(String) });
      expect(JSON.stringify(res.json())).not.toMatch(/injected|tier_events|sql/i);
      expect(await rowCounts()).toEqual(before);
      const customer = await ctx.prisma.customer.findUniqueOrThrow({ where: { id: customerId } });
      expect(customer.kycTier).toBe("none");
    } finally {
      await ctx.prisma.$executeRawUnsafe(`DROP TRIGGER qe_test_fail ON tier_events`);
    }
    // and the service keeps working
    expect((await bank.post(URL, { customerId, valid: true, photo })).statusCode).toBe(201);
  });
});
