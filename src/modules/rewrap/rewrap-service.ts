// Sealing-key rotation, the Vault-transit way: put a new key first in SEALING_KEYS (new seals use it, every
// key in the ring still opens), then re-seal ("rewrap") every stored envelope not yet under the active key,
// then the old key can be removed. Batched over ids (keyset) and resumable: a run that stops half-way is
// simply run again, since envelopes already under the active key are not selected.
import { envelopePrefix, SealError, type Sealer } from "../../crypto/seal.js";
import type { PrismaClient } from "../../db/types.js";
import { AppError } from "../../errors.js";
import { rewrapDal, SEALED_COLUMNS, type SealedColumnName } from "./rewrap-dal.js";

export const DEFAULT_REWRAP_BATCH = 50; // photos are up to 5 MiB each: bounded memory per batch

type Counts = Record<SealedColumnName, number>;
const zero = (): Counts => ({ photos: 0, templates: 0, raw: 0, selfies: 0 });

export interface RewrapSummary {
  activeKeyId: string;
  /** Envelopes re-sealed under the active key by this run. */
  rewrapped: Counts;
  /** Envelopes already under the active key when the run started. */
  alreadyCurrent: Counts;
  /** Envelopes still not under the active key when the run ended (0 everywhere: old keys can be removed). */
  remaining: Counts;
}

export class RewrapIncompleteError extends AppError {
  constructor(unopenable: Counts, examples: string[], keyIds: string[]) {
    super(
      422,
      `rewrap incomplete: ${unopenable.photos} photos, ${unopenable.templates} templates, ${unopenable.raw} raw envelopes ` +
        `and ${unopenable.selfies} selfies ` +
        `could not be opened with the keys in SEALING_KEYS (sealed with: ${keyIds.join(", ") || "unknown"}; e.g. ${examples.join(", ")}). ` +
        "Everything else was re-sealed. Do not remove any old key until this is resolved.",
      "rewrap_incomplete",
    );
  }
}

export function createRewrapService({ prisma, sealer }: { prisma: PrismaClient; sealer: Sealer }) {
  return {
    async rewrap({ batchSize = DEFAULT_REWRAP_BATCH }: { batchSize?: number } = {}): Promise<RewrapSummary> {
      const prefix = new Uint8Array(envelopePrefix(sealer.activeKeyId));
      const rewrapped = zero();
      const alreadyCurrent = zero();
      const remaining = zero();
      const unopenable = zero();
      const examples: string[] = [];
      const foreignKeys = new Set<string>();

      for (const c of SEALED_COLUMNS) {
        alreadyCurrent[c.name] = (await rewrapDal.census(prisma, c, prefix)).current;
        let after = "";
        for (;;) {
          const batch = await rewrapDal.staleAfter(prisma, c, prefix, after, batchSize);
          for (const row of batch) {
            const ctx = { purpose: c.purpose, rowId: row.id };
            let next: Buffer;
            try {
              next = sealer.seal(sealer.open(row.sealed, ctx), ctx);
            } catch (err) {
              if (!(err instanceof SealError)) throw err;
              unopenable[c.name]++;
              if (examples.length < 5) examples.push(row.id);
              try {
                foreignKeys.add(sealer.keyIdOf(row.sealed));
              } catch {
                // not even a readable header
              }
              continue;
            }
            // Each row commits on its own: a run stopped half-way leaves only whole, openable envelopes.
            rewrapped[c.name] += await rewrapDal.replace(prisma, c, row.id, row.sealed, new Uint8Array(next));
          }
          if (batch.length < batchSize) break;
          after = batch[batch.length - 1]!.id;
        }
        remaining[c.name] = (await rewrapDal.census(prisma, c, prefix)).other;
      }
      if (Object.values(unopenable).some((n) => n > 0)) throw new RewrapIncompleteError(unopenable, examples, [...foreignKeys]);
      return { activeKeyId: sealer.activeKeyId, rewrapped, alreadyCurrent, remaining };
    },
  };
}
export type RewrapService = ReturnType<typeof createRewrapService>;
