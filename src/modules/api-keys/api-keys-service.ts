import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { PrismaClient } from "../../db/types.js";
import { NotFoundError, UnauthorizedError, ValidationError } from "../../errors.js";
import { newId } from "../../ids.js";
import { orgsDal } from "../orgs/orgs-dal.js";
import { apiKeysDal } from "./api-keys-dal.js";
import { API_KEY_PATTERN, KEY_ENVS, SCOPE_PATTERN, type AuthContext, type CreatedApiKey, type KeyEnv } from "./api-keys-types.js";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding; 20 bytes → exactly 32 characters (160 bits of entropy). */
function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function hashApiKey(key: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash("sha256").update(key, "utf8").digest());
}

export function createApiKeysService({ prisma, now = () => new Date() }: { prisma: PrismaClient; now?: () => Date }) {
  // Last-used times are kept in memory and written in one batch every few seconds, so authenticating a
  // request never costs a database write.
  const pendingTouches = new Map<string, Date>();

  return {
    async create(input: { orgId: string; scopes: string[]; env?: KeyEnv; name?: string; expiresAt?: Date }): Promise<CreatedApiKey> {
      const env = input.env ?? "sandbox";
      const scopes = [...new Set(input.scopes.map((s) => s.trim()).filter(Boolean))];
      const fieldErrors: Record<string, string[]> = {};
      if (!KEY_ENVS.includes(env)) fieldErrors.env = [`must be one of ${KEY_ENVS.join(", ")}`];
      if (scopes.length === 0) fieldErrors.scopes = ["at least one scope is required"];
      const bad = scopes.filter((s) => !SCOPE_PATTERN.test(s));
      if (bad.length) fieldErrors.scopes = [`invalid scope(s) ${bad.join(", ")}: use {resource}:view, {resource}:write or api:manage`];
      if (input.name !== undefined && (input.name.length < 1 || input.name.length > 100)) fieldErrors.name = ["must be 1-100 characters"];
      if (input.expiresAt && input.expiresAt.getTime() <= now().getTime()) fieldErrors.expiresAt = ["must be in the future"];
      if (Object.keys(fieldErrors).length) throw new ValidationError("invalid API key request", fieldErrors);
      if (!(await orgsDal.findById(prisma, input.orgId))) throw new NotFoundError("org");

      const secret = base32(randomBytes(20));
      const key = `qe_sk_${env}_${secret}`;
      const row = await apiKeysDal.create(prisma, {
        id: newId.apiKey(),
        orgId: input.orgId,
        name: input.name ?? null,
        env,
        prefix: `qe_sk_${env}_${secret.slice(0, 4)}`,
        hash: hashApiKey(key),
        scopes,
        expiresAt: input.expiresAt ?? null,
      });
      return {
        id: row.id,
        key,
        prefix: row.prefix,
        name: row.name,
        scopes: row.scopes,
        env: row.env,
        orgId: row.orgId,
        expiresAt: row.expiresAt?.toISOString() ?? null,
        createdAt: row.createdAt.toISOString(),
      };
    },

    async revoke(id: string): Promise<{ id: string; revokedAt: string }> {
      const [row] = await apiKeysDal.revoke(prisma, id, now());
      if (row) return { id: row.id, revokedAt: row.revokedAt!.toISOString() };
      const existing = await apiKeysDal.findById(prisma, id);
      if (!existing) throw new NotFoundError("API key");
      return { id: existing.id, revokedAt: existing.revokedAt!.toISOString() }; // already revoked: idempotent
    },

    /** `Authorization` header → who is calling. Every failure is the same 401, whatever the reason. */
    async authenticate(authorization: string | undefined): Promise<AuthContext> {
      // The scheme name is case-insensitive (RFC 9110 §11.1); the key itself is compared exactly.
      // The body is the same 401 whatever the reason; WWW-Authenticate says whether a Bearer token came at all.
      const bad = new UnauthorizedError({ tokenSent: /^Bearer(\s|$)/i.test(authorization ?? "") });
      const match = /^Bearer (\S+)$/i.exec(authorization ?? "");
      const token = match?.[1];
      if (!token || !API_KEY_PATTERN.test(token)) throw bad;
      const hash = hashApiKey(token);
      const row = await apiKeysDal.findByHash(prisma, hash);
      if (!row || !timingSafeEqual(row.hash, hash)) throw bad;
      const at = now();
      if (row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= at.getTime())) throw bad;
      pendingTouches.set(row.id, at);
      return {
        keyId: row.id,
        keyPrefix: row.prefix,
        env: row.env,
        scopes: new Set(row.scopes),
        orgId: row.orgId,
        capabilities: { dukcapilEnabled: row.org.dukcapilEnabled },
        rateLimits: Object.fromEntries(row.org.rateLimits.map((l) => [l.bucket, l.perMinute])),
      };
    },

    /** Writes the batched last-used times. Called on a timer and at shutdown. */
    async flushLastUsed(): Promise<number> {
      if (pendingTouches.size === 0) return 0;
      const entries = [...pendingTouches].map(([id, at]) => ({ id, at }));
      pendingTouches.clear();
      return apiKeysDal.touchMany(prisma, entries);
    },
  };
}
export type ApiKeysService = ReturnType<typeof createApiKeysService>;
