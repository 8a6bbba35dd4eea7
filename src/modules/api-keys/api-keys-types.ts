import type { Capability, RateLimitBucket } from "../orgs/orgs-types.js";

export const KEY_ENVS = ["sandbox", "live"] as const;
export type KeyEnv = (typeof KEY_ENVS)[number];

/** `qe_sk_<env>_<secret>`: the secret is 32 characters of RFC 4648 base32, case-sensitive. */
export const API_KEY_PATTERN = /^qe_sk_(sandbox|live)_[A-Z2-7]{32}$/;
export const SCOPE_PATTERN = /^(?:[a-z][a-z_]*:(?:view|write)|api:manage)$/;

/** Who is calling: set on the request by the auth hook. Never holds the key itself. */
export interface AuthContext {
  keyId: string;
  keyPrefix: string;
  env: KeyEnv;
  scopes: ReadonlySet<string>;
  orgId: string;
  capabilities: Record<Capability, boolean>;
  rateLimits: Partial<Record<RateLimitBucket | string, number>>;
}

export interface CreatedApiKey {
  id: string;
  /** The full key: returned once, at creation, never stored. */
  key: string;
  prefix: string;
  name: string | null;
  scopes: string[];
  env: KeyEnv;
  orgId: string;
  expiresAt: string | null;
  createdAt: string;
}
