// Analyst passwords: node:crypto's scrypt (memory-hard; no native add-on to build, nothing to download).
// Parameters are OWASP's scrypt equivalent of N=2^17,r=8,p=1 that needs a quarter of the memory per hash
// (N=2^15, r=8, p=3: 32 MiB, ~the same CPU), so a burst of sign-ins on the shared 2-core hosts cannot take
// gigabytes. They are stored with each hash, so they can be raised later without invalidating old hashes
// (verify reports `stale`, and sign-in re-hashes).
//
//   stored = "scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>"   (16-byte salt per password, 32-byte hash)
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

export const SCRYPT = { log2N: 15, r: 8, p: 3, saltBytes: 16, keyBytes: 32 } as const;

function derive(password: string, salt: Buffer, keyBytes: number, o: { log2N: number; r: number; p: number }): Promise<Buffer> {
  const N = 2 ** o.log2N;
  // maxmem must exceed 128 * N * r (Node refuses at its 32 MiB default for exactly these parameters)
  const options: ScryptOptions = { N, r: o.r, p: o.p, maxmem: 256 * N * o.r };
  return new Promise((resolve, reject) => scrypt(password.normalize("NFC"), salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltBytes);
  const key = await derive(password, salt, SCRYPT.keyBytes, SCRYPT);
  return `scrypt$${SCRYPT.log2N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

const MIN_STORED_KEY_BYTES = 16;
const STORED = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{1,100})\$([A-Za-z0-9+/=]{1,200})$/;

/** `ok`: the password matches (compared in constant time); `stale`: it was hashed with other parameters. */
export async function verifyPassword(password: string, stored: string): Promise<{ ok: boolean; stale: boolean }> {
  const m = STORED.exec(stored);
  if (!m) return { ok: false, stale: false };
  const params = { log2N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.log2N < 10 || params.log2N > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return { ok: false, stale: false };
  const expected = Buffer.from(m[5]!, "base64");
  // scrypt derives a key of any length asked for, none included: a stored key of a few bytes (a damaged or
  // planted row) would let almost any password through
  if (expected.length < MIN_STORED_KEY_BYTES) return { ok: false, stale: false };
  const key = await derive(password, Buffer.from(m[4]!, "base64"), expected.length, params);
  const ok = timingSafeEqual(key, expected); // derived at the stored key's length
  return { ok, stale: params.log2N !== SCRYPT.log2N || params.r !== SCRYPT.r || params.p !== SCRYPT.p };
}

/** A hash of no one's password: unknown emails are verified against it, so they cost what a real check costs. */
let dummy: Promise<string> | undefined;
export const dummyPasswordHash = () => (dummy ??= hashPassword(randomBytes(24).toString("base64url")));

/** A generated password: 24 characters of base64url, 144 bits from the OS CSPRNG. */
export const generatePassword = () => randomBytes(18).toString("base64url");
