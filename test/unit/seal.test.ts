// Sealing at rest (AES-256-GCM): round trip, fresh nonces, tag and associated data verified, the versioned
// envelope naming its key, the keyring, SEALING_KEYS parsing, and where the keyring comes from (loadSealer).
import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  SealError,
  createSealer,
  envelopePrefix,
  generateSealingKeyEntry,
  loadSealer,
  parseSealingKeys,
  type SealContext,
} from "../../src/crypto/seal.js";

const key = (id: string) => ({ id, key: randomBytes(32) });
const PHOTO: SealContext = { purpose: "face_enrolment.photo", rowId: "fe_01JA0000000000000000000001" };
const plaintext = Buffer.from("the official photo bytes \u0000\u00ff and more");

describe("seal / open", () => {
  const sealer = createSealer([key("k1")]);

  it("round-trips any plaintext, including empty and large ones", () => {
    for (const p of [Buffer.alloc(0), plaintext, randomBytes(1 << 20)]) {
      expect(sealer.open(sealer.seal(p, PHOTO), PHOTO).equals(p)).toBe(true);
    }
  });

  it("uses a fresh 96-bit nonce per seal: the same plaintext never seals to the same bytes", () => {
    const envelopes = Array.from({ length: 50 }, () => sealer.seal(plaintext, PHOTO));
    const nonces = envelopes.map((e) => e.subarray(2 + 2, 2 + 2 + 12).toString("hex")); // 0x01 | 2 | "k1" | nonce
    expect(new Set(nonces).size).toBe(50);
    expect(new Set(envelopes.map((e) => e.toString("hex"))).size).toBe(50);
    // the envelope: version, key id, nonce (12), ciphertext (same length as the plaintext), tag (16)
    expect(envelopes[0]!.length).toBe(1 + 1 + 2 + 12 + plaintext.length + 16);
    expect(envelopes[0]!.includes(plaintext)).toBe(false);
  });

  it("verifies the tag: flipping any single byte of the envelope makes it fail to open", () => {
    const env = sealer.seal(plaintext, PHOTO);
    for (let i = 0; i < env.length; i++) {
      const bad = Buffer.from(env);
      bad[i]! ^= 0x01;
      expect(() => sealer.open(bad, PHOTO), `byte ${i}`).toThrow(SealError);
    }
    // truncated or extended
    expect(() => sealer.open(env.subarray(0, env.length - 1), PHOTO)).toThrow(SealError);
    expect(() => sealer.open(Buffer.concat([env, Buffer.from([0])]), PHOTO)).toThrow(SealError);
    expect(() => sealer.open(env.subarray(0, 10), PHOTO)).toThrow(/too short/);
    expect(() => sealer.open(Buffer.alloc(0), PHOTO)).toThrow(SealError);
  });

  it("binds each ciphertext to its row and its purpose (associated data)", () => {
    const env = sealer.seal(plaintext, PHOTO);
    expect(() => sealer.open(env, { ...PHOTO, rowId: "fe_01JA0000000000000000000002" })).toThrow(/failed authentication/);
    expect(() => sealer.open(env, { ...PHOTO, purpose: "verification.raw" })).toThrow(/failed authentication/);
    expect(() => sealer.open(env, { ...PHOTO, purpose: "face_enrolment.template" })).toThrow(/failed authentication/);
    // no ambiguity between purpose and row when they are concatenated
    const a = sealer.seal(plaintext, { purpose: "verification.raw", rowId: "x|y" });
    expect(() => sealer.open(a, { purpose: "verification.raw", rowId: "x" })).toThrow(SealError);
    expect(sealer.open(a, { purpose: "verification.raw", rowId: "x|y" }).equals(plaintext)).toBe(true);
  });

  it("names the key id in a versioned envelope header", () => {
    const s = createSealer([key("k20261125.a-b_c")]);
    const env = s.seal(plaintext, PHOTO);
    expect(env[0]).toBe(1);
    expect(env[1]).toBe("k20261125.a-b_c".length);
    expect(env.subarray(2, 2 + env[1]!).toString("ascii")).toBe("k20261125.a-b_c");
    expect(s.keyIdOf(env)).toBe("k20261125.a-b_c");
    expect(env.subarray(0, 2 + env[1]!).equals(envelopePrefix("k20261125.a-b_c"))).toBe(true);
    const v2 = Buffer.from(env);
    v2[0] = 2;
    expect(() => s.open(v2, PHOTO)).toThrow(/version/);
  });

  it("a keyring: the first key seals, every key opens; a key not in the ring is a clear error", () => {
    const k1 = key("k1");
    const k2 = key("k2");
    const old = createSealer([k1]);
    const sealedByOld = old.seal(plaintext, PHOTO);
    const ring = createSealer([k2, k1]);
    expect(ring.activeKeyId).toBe("k2");
    expect(ring.keyIds).toEqual(["k2", "k1"]);
    expect(ring.open(sealedByOld, PHOTO).equals(plaintext)).toBe(true);
    const sealedByRing = ring.seal(plaintext, PHOTO);
    expect(ring.keyIdOf(sealedByRing)).toBe("k2");
    expect(ring.open(sealedByRing, PHOTO).equals(plaintext)).toBe(true);
    expect(() => old.open(sealedByRing, PHOTO)).toThrow('sealed with key "k2", which is not in SEALING_KEYS');
    // same id, different key bytes: authentication fails, it does not return garbage
    const impostor = createSealer([{ id: "k1", key: randomBytes(32) }]);
    expect(() => impostor.open(sealedByOld, PHOTO)).toThrow(/failed authentication/);
  });

  it("refuses a bad keyring", () => {
    expect(() => createSealer([])).toThrow(SealError);
    expect(() => createSealer([{ id: "k1", key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => createSealer([key("k1"), key("k1")])).toThrow(/twice/);
    expect(() => createSealer([key("bad id")])).toThrow(/must match/);
    expect(() => createSealer([key("x".repeat(65))])).toThrow(/must match/);
    expect(() => createSealer([key("")])).toThrow(/must match/);
  });
});

describe("parseSealingKeys", () => {
  it("parses a keyring in order and round-trips generated entries", () => {
    const a = generateSealingKeyEntry("a1");
    const b = generateSealingKeyEntry("b2");
    const keys = parseSealingKeys(`${a}, ${b}`);
    expect(keys.map((k) => k.id)).toEqual(["a1", "b2"]);
    expect(keys[0]!.key.toString("base64")).toBe(a.split(":")[1]);
    expect(keys.every((k) => k.key.length === 32)).toBe(true);
    expect(generateSealingKeyEntry()).toMatch(/^k\d{8}:[A-Za-z0-9+/]{43}=$/);
    // empty entries (a trailing comma, a doubled one) are skipped
    expect(parseSealingKeys(`${a},`).map((k) => k.id)).toEqual(["a1"]);
    expect(parseSealingKeys(` ${a} , ,${b},`).map((k) => k.id)).toEqual(["a1", "b2"]);
  });

  it("says what is wrong in words an operator can act on", () => {
    expect(() => parseSealingKeys("nocolon")).toThrow('each SEALING_KEYS entry must look like "<id>:<base64 key>"');
    expect(() => parseSealingKeys(`k1:${randomBytes(16).toString("base64")}`)).toThrow('sealing key "k1" must be 32 bytes in standard base64');
    expect(() => createSealer([])).toThrow("at least one sealing key is required");
    expect(() => createSealer(parseSealingKeys(" , "))).toThrow("at least one sealing key is required");
  });

  it("rejects every malformed entry with a message that does not echo the key", () => {
    const good = randomBytes(32).toString("base64");
    const short = randomBytes(16).toString("base64");
    const cases = [
      "nocolon",
      `:${good}`,
      `k1:${short}`,
      `k1:${good.replace(/=$/, "")}`, // unpadded
      `k1:${good.slice(0, 20)}\n${good.slice(20)}`,
      `k1:${Buffer.from(randomBytes(32)).toString("base64url")}-_`,
      `k1:${good},k2`,
      `k1:${randomBytes(33).toString("base64")}`,
    ];
    for (const spec of cases) {
      let err: unknown;
      try {
        parseSealingKeys(spec);
      } catch (e) {
        err = e;
      }
      expect(err, spec).toBeInstanceOf(SealError);
      expect((err as Error).message).not.toContain(good.slice(0, 12));
      expect((err as Error).message).not.toContain(short.slice(0, 12));
    }
  });
});

describe("loadSealer", () => {
  const dirs: string[] = [];
  const tmp = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), "qe-seal-"));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("uses SEALING_KEYS when given, in any environment, and writes nothing", async () => {
    const dir = await tmp();
    const spec = `${generateSealingKeyEntry("p1")},${generateSealingKeyEntry("p0")}`;
    let told = false;
    const s = await loadSealer({ sealingKeys: spec, dataDir: dir, production: true, onDevKey: () => (told = true) });
    expect(s.activeKeyId).toBe("p1");
    expect(s.keyIds).toEqual(["p1", "p0"]);
    expect(told).toBe(false);
    await expect(stat(path.join(dir, "sealing-keys.dev"))).rejects.toThrow();
  });

  it("refuses to start in production without keys, and writes no key file", async () => {
    const dir = await tmp();
    await expect(loadSealer({ dataDir: dir, production: true })).rejects.toThrow("SEALING_KEYS is required in production");
    await expect(stat(path.join(dir, "sealing-keys.dev"))).rejects.toThrow();
  });

  it("outside production generates a 0600 key file in the data dir once, then reuses it", async () => {
    const dir = path.join(await tmp(), "nested", "data"); // the data dir need not exist yet
    const calls: [string, boolean][] = [];
    const first = await loadSealer({ dataDir: dir, production: false, onDevKey: (f, c) => calls.push([f, c]) });
    const file = path.join(dir, "sealing-keys.dev");
    expect(calls).toEqual([[file, true]]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const content = await readFile(file, "utf8");
    expect(parseSealingKeys(content.trim())).toHaveLength(1);

    await chmod(file, 0o644); // loosened (a copied data dir): tightened again on the next start
    const second = await loadSealer({ dataDir: dir, production: false, onDevKey: (f, c) => calls.push([f, c]) });
    expect(calls[1]).toEqual([file, false]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, "utf8")).toBe(content);
    // the same key: what the first sealed, the second opens
    expect(second.open(first.seal(plaintext, PHOTO), PHOTO).equals(plaintext)).toBe(true);
    expect(second.activeKeyId).toBe(first.activeKeyId);
  });

  it("concurrent first starts agree on one key", async () => {
    const dir = await tmp();
    const sealers = await Promise.all(Array.from({ length: 5 }, () => loadSealer({ dataDir: dir, production: false })));
    const env = sealers[0]!.seal(plaintext, PHOTO);
    for (const s of sealers) expect(s.open(env, PHOTO).equals(plaintext)).toBe(true);
  });

  it("a corrupt dev key file is an error, not a silently new key", async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, "sealing-keys.dev"), "dev1:garbage", { mode: 0o600 });
    await expect(loadSealer({ dataDir: dir, production: false })).rejects.toThrow(SealError);
  });
});

describe("mac / verifyMac (the console's login CSRF token)", () => {
  const k1 = key("k1");
  const k2 = key("k2");
  const purpose = "console.login-csrf" as const;

  it("verifies its own tag for the same data, and nothing else", () => {
    const sealer = createSealer([k1]);
    const tag = sealer.mac(purpose, "cookie-value");
    expect(sealer.verifyMac(purpose, "cookie-value", tag)).toBe(true);
    expect(sealer.verifyMac(purpose, "cookie-valuf", tag)).toBe(false);
    const flipped = Buffer.from(tag, "base64url");
    flipped[0]! ^= 1;
    expect(sealer.verifyMac(purpose, "cookie-value", flipped.toString("base64url"))).toBe(false);
    expect(sealer.verifyMac(purpose, "cookie-value", tag.slice(0, -4))).toBe(false);
    expect(sealer.verifyMac(purpose, "cookie-value", "")).toBe(false);
    expect(createSealer([k2]).verifyMac(purpose, "cookie-value", tag), "another key's ring").toBe(false);
  });

  it("keeps the tags of every key in the ring valid across a rotation, each under its own key", () => {
    const before = createSealer([k1]).mac(purpose, "d");
    const after = createSealer([k2, k1]).mac(purpose, "d");
    expect(after).not.toBe(before);
    for (const ring of [createSealer([k2, k1]), createSealer([k1, k2])]) {
      expect(ring.verifyMac(purpose, "d", before)).toBe(true);
      expect(ring.verifyMac(purpose, "d", after)).toBe(true);
    }
    expect(createSealer([k1]).verifyMac(purpose, "d", after), "a key not in the ring").toBe(false);
  });

  it("is HMAC-SHA256 under a key derived from the sealing key by HKDF-SHA256 for its purpose (known answer)", () => {
    const fixed = { id: "k1", key: Buffer.alloc(32, 7) };
    const derived = Buffer.from(hkdfSync("sha256", fixed.key, Buffer.alloc(0), `qe-mac|${purpose}`, 32));
    expect(createSealer([fixed]).mac(purpose, "data")).toBe(createHmac("sha256", derived).update("data", "utf8").digest("base64url"));
  });
});
