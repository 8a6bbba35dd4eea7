// Sealing at rest: the only module that touches sealing keys.
//
// AES-256-GCM with a fresh random 96-bit nonce per seal. The envelope is versioned and names the key that
// sealed it, so keys can rotate (the first key of the ring seals, every key opens). The associated data binds
// each ciphertext to its purpose and its row: a sealed photo copied into another row, or into another
// column, fails to open.
//
//   envelope v1 = 0x01 | kidLen (1 byte) | kid (ASCII) | nonce (12) | ciphertext | tag (16)
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export type SealPurpose = "verification.raw" | "face_enrolment.photo" | "face_enrolment.template" | "face_match.selfie";

export interface SealContext {
  purpose: SealPurpose;
  /** The id of the row the value is stored in. */
  rowId: string;
}

export interface SealingKey {
  id: string;
  key: Buffer;
}

export interface Sealer {
  /** The id of the key new seals use. */
  readonly activeKeyId: string;
  readonly keyIds: readonly string[];
  seal(plaintext: Buffer, ctx: SealContext): Buffer;
  open(envelope: Uint8Array, ctx: SealContext): Buffer;
  /** The id of the key an envelope was sealed with (no decryption). */
  keyIdOf(envelope: Uint8Array): string;
  /**
   * An HMAC-SHA256 tag of `data` under a key derived (HKDF) from the active key for `purpose`: for values the
   * service hands out and must recognise later (the console's sign-in form token), never for sealing.
   */
  mac(purpose: MacPurpose, data: string): string;
  /** Whether `tag` is `mac(purpose, data)` under any key of the ring (rotation keeps tags valid), in constant time. */
  verifyMac(purpose: MacPurpose, data: string, tag: string): boolean;
}

export type MacPurpose = "console.login-csrf";

export class SealError extends Error {}

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

function header(kid: string): Buffer {
  return Buffer.concat([Buffer.from([VERSION, kid.length]), Buffer.from(kid, "ascii")]);
}

function aad(head: Buffer, ctx: SealContext): Buffer {
  return Buffer.concat([head, Buffer.from(`|${ctx.purpose}|${ctx.rowId}`, "utf8")]);
}

function parseHeader(envelope: Uint8Array): { kid: string; head: Buffer; body: Buffer } {
  const buf = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  if (buf.length < 2 || buf[0] !== VERSION) throw new SealError("unknown sealed envelope version");
  const kidLen = buf[1]!;
  if (buf.length < 2 + kidLen + NONCE_BYTES + TAG_BYTES) throw new SealError("sealed envelope too short");
  return { kid: buf.subarray(2, 2 + kidLen).toString("ascii"), head: buf.subarray(0, 2 + kidLen), body: buf.subarray(2 + kidLen) };
}

/**
 * The first bytes of every envelope sealed with `keyId` (version, key id). Lets a database query find the
 * envelopes not yet under the active key (key rotation) without knowing the envelope format.
 */
export function envelopePrefix(keyId: string): Buffer {
  if (!KID_PATTERN.test(keyId)) throw new SealError(`sealing key id "${keyId}" must match ${KID_PATTERN}`);
  return header(keyId);
}

export function createSealer(keys: SealingKey[]): Sealer {
  if (keys.length === 0) throw new SealError("at least one sealing key is required");
  const ring = new Map<string, Buffer>();
  for (const k of keys) {
    if (!KID_PATTERN.test(k.id)) throw new SealError(`sealing key id "${k.id}" must match ${KID_PATTERN}`);
    if (k.key.length !== 32) throw new SealError(`sealing key "${k.id}" must be 32 bytes (AES-256)`);
    if (ring.has(k.id)) throw new SealError(`sealing key id "${k.id}" appears twice`);
    ring.set(k.id, Buffer.from(k.key));
  }
  const active = keys[0]!.id;
  const macKeys = new Map<string, Buffer>();
  const macKey = (kid: string, purpose: MacPurpose) => {
    const id = `${kid}|${purpose}`;
    let k = macKeys.get(id);
    if (!k) macKeys.set(id, (k = Buffer.from(hkdfSync("sha256", ring.get(kid)!, Buffer.alloc(0), `qe-mac|${purpose}`, 32))));
    return k;
  };
  const tagOf = (kid: string, purpose: MacPurpose, data: string) => createHmac("sha256", macKey(kid, purpose)).update(data, "utf8").digest();
  return {
    activeKeyId: active,
    keyIds: [...ring.keys()],
    seal(plaintext, ctx) {
      const head = header(active);
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", ring.get(active)!, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(head, ctx));
      const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([head, nonce, ct, cipher.getAuthTag()]);
    },
    open(envelope, ctx) {
      const { kid, head, body } = parseHeader(envelope);
      const key = ring.get(kid);
      if (!key) throw new SealError(`sealed with key "${kid}", which is not in SEALING_KEYS`);
      const nonce = body.subarray(0, NONCE_BYTES);
      const tag = body.subarray(body.length - TAG_BYTES);
      const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(head, ctx));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new SealError("sealed value failed authentication (wrong key, row or purpose, or tampered)");
      }
    },
    keyIdOf(envelope) {
      return parseHeader(envelope).kid;
    },
    mac(purpose, data) {
      return tagOf(active, purpose, data).toString("base64url");
    },
    verifyMac(purpose, data, tag) {
      const given = Buffer.from(tag, "base64url");
      let ok = false;
      for (const kid of ring.keys()) {
        const want = tagOf(kid, purpose, data);
        if (given.length === want.length && timingSafeEqual(given, want)) ok = true;
      }
      return ok;
    },
  };
}

/** `SEALING_KEYS` = "<id>:<base64 of 32 bytes>[,<id>:<base64>...]"; the first key seals. */
export function parseSealingKeys(spec: string): SealingKey[] {
  return spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const i = entry.indexOf(":");
      if (i <= 0) throw new SealError('each SEALING_KEYS entry must look like "<id>:<base64 key>"');
      const id = entry.slice(0, i);
      const b64 = entry.slice(i + 1);
      const key = Buffer.from(b64, "base64");
      if (key.length !== 32 || key.toString("base64") !== b64) {
        throw new SealError(`sealing key "${id}" must be 32 bytes in standard base64`);
      }
      return { id, key };
    });
}

/** Makes a new key entry for SEALING_KEYS (used by `admin keys generate` and the development fallback). */
export function generateSealingKeyEntry(id = `k${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`): string {
  return `${id}:${randomBytes(32).toString("base64")}`;
}

/**
 * The keyring from configuration. Outside production, with no SEALING_KEYS, a key is generated once into
 * the data directory (mode 0600) and reused; `onDevKey` is told so the caller can warn loudly.
 */
export async function loadSealer(opts: {
  sealingKeys?: string;
  dataDir: string;
  production: boolean;
  onDevKey?: (file: string, created: boolean) => void;
}): Promise<Sealer> {
  if (opts.sealingKeys) return createSealer(parseSealingKeys(opts.sealingKeys));
  if (opts.production) throw new SealError("SEALING_KEYS is required in production");
  const file = path.join(opts.dataDir, "sealing-keys.dev");
  let spec = await readFile(file, "utf8").catch(() => undefined);
  const created = spec === undefined;
  if (spec === undefined) {
    await mkdir(opts.dataDir, { recursive: true });
    spec = generateSealingKeyEntry("dev1");
    try {
      await writeFile(file, spec, { flag: "wx", mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      spec = await readFile(file, "utf8"); // another process made it first: use theirs
    }
  }
  await chmod(file, 0o600); // every start, not only at creation: a copied data dir may have loosened it
  opts.onDevKey?.(file, created);
  return createSealer(parseSealingKeys(spec.trim()));
}
