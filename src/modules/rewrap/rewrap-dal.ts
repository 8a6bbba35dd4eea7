// Data access for re-sealing (key rotation): the sealed columns, read in id order (keyset) and replaced only
// if unchanged since they were read.
import type { DbClient } from "../../db/types.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { SealPurpose } from "../../crypto/seal.js";

export type SealedColumnName = "photos" | "templates" | "raw";

export interface SealedColumn {
  name: SealedColumnName;
  table: "face_enrolments" | "verifications";
  column: "photo_sealed" | "template_sealed" | "raw_sealed";
  /** The AAD purpose the column's envelopes are sealed with (their row id is the other half). */
  purpose: SealPurpose;
}

/** Every column that holds a sealed envelope. A new sealed column must be added here to be rotated. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { name: "photos", table: "face_enrolments", column: "photo_sealed", purpose: "face_enrolment.photo" },
  { name: "templates", table: "face_enrolments", column: "template_sealed", purpose: "face_enrolment.template" },
  { name: "raw", table: "verifications", column: "raw_sealed", purpose: "verification.raw" },
];

// Identifiers come from SEALED_COLUMNS only, never from input.
const ident = (c: SealedColumn) => ({ table: Prisma.raw(`"${c.table}"`), column: Prisma.raw(`"${c.column}"`) });

export const rewrapDal = {
  /** The next rows after `afterId` whose envelope does not start with `prefix` (not under the active key). */
  staleAfter(db: DbClient, c: SealedColumn, prefix: Uint8Array, afterId: string, limit: number) {
    const { table, column } = ident(c);
    return db.$queryRaw<{ id: string; sealed: Uint8Array }[]>`
      SELECT id, ${column} AS sealed FROM ${table}
      WHERE ${column} IS NOT NULL AND id > ${afterId}
        AND substring(${column} from 1 for ${prefix.length}) <> ${prefix}
      ORDER BY id LIMIT ${limit}`;
  },

  /** Replaces one envelope if it is still the one read; 0 when the row changed meanwhile. */
  replace(db: DbClient, c: SealedColumn, id: string, expected: Uint8Array, next: Uint8Array) {
    const { table, column } = ident(c);
    return db.$executeRaw`UPDATE ${table} SET ${column} = ${next} WHERE id = ${id} AND ${column} = ${expected}`;
  },

  /** How many envelopes of the column are, and are not, under the key with `prefix`. */
  async census(db: DbClient, c: SealedColumn, prefix: Uint8Array): Promise<{ current: number; other: number }> {
    const { table, column } = ident(c);
    const [row] = await db.$queryRaw<{ current: bigint; other: bigint }[]>`
      SELECT count(*) FILTER (WHERE substring(${column} from 1 for ${prefix.length}) = ${prefix}) AS current,
             count(*) FILTER (WHERE substring(${column} from 1 for ${prefix.length}) <> ${prefix}) AS other
      FROM ${table} WHERE ${column} IS NOT NULL`;
    return { current: Number(row?.current ?? 0), other: Number(row?.other ?? 0) };
  },
};
