// Data access for re-sealing (key rotation): the sealed columns, read in id order (keyset) and replaced only
// if unchanged since they were read.
import type { DbClient } from "../../db/types.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { SealPurpose } from "../../crypto/seal.js";

export type SealedColumnName = "photos" | "templates" | "raw" | "selfies";

export interface SealedColumn {
  name: SealedColumnName;
  table: "face_enrolments" | "verifications" | "face_match_selfies";
  column: "photo_sealed" | "template_sealed" | "raw_sealed" | "selfie_sealed";
  /** The row id the envelope is bound to (its AAD) and the keyset walks. */
  idColumn: "id" | "verification_id";
  /** The AAD purpose the column's envelopes are sealed with (their row id is the other half). */
  purpose: SealPurpose;
}

/** Every column that holds a sealed envelope. A new sealed column must be added here to be rotated. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { name: "photos", table: "face_enrolments", column: "photo_sealed", idColumn: "id", purpose: "face_enrolment.photo" },
  { name: "templates", table: "face_enrolments", column: "template_sealed", idColumn: "id", purpose: "face_enrolment.template" },
  { name: "raw", table: "verifications", column: "raw_sealed", idColumn: "id", purpose: "verification.raw" },
  { name: "selfies", table: "face_match_selfies", column: "selfie_sealed", idColumn: "verification_id", purpose: "face_match.selfie" },
];

// Identifiers come from SEALED_COLUMNS only, never from input.
const ident = (c: SealedColumn) => ({ table: Prisma.raw(`"${c.table}"`), column: Prisma.raw(`"${c.column}"`), id: Prisma.raw(`"${c.idColumn}"`) });

export const rewrapDal = {
  /** The next rows after `afterId` whose envelope does not start with `prefix` (not under the active key). */
  staleAfter(db: DbClient, c: SealedColumn, prefix: Uint8Array, afterId: string, limit: number) {
    const { table, column, id } = ident(c);
    return db.$queryRaw<{ id: string; sealed: Uint8Array }[]>`
      SELECT ${id} AS id, ${column} AS sealed FROM ${table}
      WHERE ${column} IS NOT NULL AND ${id} > ${afterId}
        AND substring(${column} from 1 for ${prefix.length}) <> ${prefix}
      ORDER BY ${id} LIMIT ${limit}`;
  },

  /** Replaces one envelope if it is still the one read; 0 when the row changed meanwhile. */
  replace(db: DbClient, c: SealedColumn, rowId: string, expected: Uint8Array, next: Uint8Array) {
    const { table, column, id } = ident(c);
    return db.$executeRaw`UPDATE ${table} SET ${column} = ${next} WHERE ${id} = ${rowId} AND ${column} = ${expected}`;
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
