// Analyst password hashes (src/modules/analysts/password.ts): the stored format with its parameters, a known
// answer computed with node:crypto's scrypt directly (so a changed parameter, salt or derivation cannot pass
// by changing both sides), stale detection, and refusal of malformed or out-of-bounds stored values.
import { randomBytes, scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generatePassword, hashPassword, SCRYPT, verifyPassword } from "../../src/modules/analysts/password.js";

const known = (password: string, salt: Buffer, log2N: number, r: number, p: number, keyBytes = 32) =>
  scryptSync(password.normalize("NFC"), salt, keyBytes, { N: 2 ** log2N, r, p, maxmem: 256 * 2 ** log2N * r }).toString("base64");

describe("analyst password hashes", () => {
  it("are stored as scrypt$15$8$3$<16-byte salt>$<32-byte key>, the key being scrypt of the NFC password", async () => {
    expect(SCRYPT).toEqual({ log2N: 15, r: 8, p: 3, saltBytes: 16, keyBytes: 32 });
    const stored = await hashPassword("Kata sandi rahasia");
    const m = /^scrypt\$15\$8\$3\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
    expect(m, stored).not.toBeNull();
    const salt = Buffer.from(m![1]!, "base64");
    expect(salt).toHaveLength(16);
    expect(Buffer.from(m![2]!, "base64")).toHaveLength(32);
    expect(m![2]).toBe(known("Kata sandi rahasia", salt, 15, 8, 3));
    expect(await hashPassword("Kata sandi rahasia"), "a fresh salt each time").not.toBe(stored);
  });

  it("verify a known hash: the right password (in any Unicode normal form), not another", async () => {
    const salt = Buffer.alloc(16, 9);
    const stored = `scrypt$15$8$3$${salt.toString("base64")}$${known("caf\u00e9", salt, 15, 8, 3)}`;
    expect(await verifyPassword("caf\u00e9", stored)).toEqual({ ok: true, stale: false });
    expect(await verifyPassword("cafe\u0301", stored), "NFD spelling of the same password").toEqual({ ok: true, stale: false });
    expect(await verifyPassword("cafe", stored)).toEqual({ ok: false, stale: false });
    expect(await verifyPassword("", stored)).toEqual({ ok: false, stale: false });
  });

  it("report a hash made with other parameters as stale, and still verify it", async () => {
    const salt = randomBytes(16);
    for (const [log2N, r, p] of [[14, 8, 3], [15, 4, 3], [15, 8, 1]] as const) {
      const stored = `scrypt$${log2N}$${r}$${p}$${salt.toString("base64")}$${known("pw", salt, log2N, r, p)}`;
      expect(await verifyPassword("pw", stored), stored.slice(0, 14)).toEqual({ ok: true, stale: true });
      expect(await verifyPassword("px", stored)).toEqual({ ok: false, stale: true });
    }
  });

  it("refuse stored values that are malformed or ask for absurd parameters, without deriving anything", async () => {
    const salt = Buffer.alloc(16, 1).toString("base64");
    const key = Buffer.alloc(32, 2).toString("base64");
    for (const stored of [
      "",
      "plain",
      `bcrypt$15$8$3$${salt}$${key}`,
      `scrypt$15$8$3$${salt}`,
      `scrypt$9$8$3$${salt}$${key}`, // N below 2^10
      `scrypt$21$8$3$${salt}$${key}`, // N above 2^20: a stored value must not make sign-in take gigabytes
      `scrypt$15$0$3$${salt}$${key}`,
      `scrypt$15$33$3$${salt}$${key}`,
      `scrypt$15$8$0$${salt}$${key}`,
      `scrypt$15$8$17$${salt}$${key}`,
      `scrypt$15$8$3$${salt}$${key}$extra`,
      `scrypt$15$8$3$${salt}$====`, // no key at all: scrypt derives an empty one, which any password matches
      `scrypt$15$8$3$${salt}$A`,
      `scrypt$15$8$3$${salt}$${Buffer.alloc(15, 2).toString("base64")}`, // under 16 bytes
    ]) {
      expect(await verifyPassword("pw", stored), stored.slice(0, 20)).toEqual({ ok: false, stale: false });
    }
    // at the bounds, the parameters are accepted (and the password still has to match)
    const b = randomBytes(16);
    expect(await verifyPassword("pw", `scrypt$10$1$1$${b.toString("base64")}$${known("pw", b, 10, 1, 1)}`)).toEqual({ ok: true, stale: true });
  });

  it("generated passwords are 24 base64url characters, different every time", () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(generatePassword()).not.toBe(a);
  });
});
