// Compliance analysts (admin CLI): created with a generated password shown once, disabled (which ends every
// session of theirs in the same transaction). Sign-in itself is the console sessions' business.
import { inTransaction } from "../../db/transaction.js";
import type { PrismaClient } from "../../db/types.js";
import { isUniqueViolation } from "../../db/errors.js";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import { newId } from "../../ids.js";
import { consoleSessionsDal } from "../console-sessions/console-sessions-dal.js";
import { orgsDal } from "../orgs/orgs-dal.js";
import { analystsDal } from "./analysts-dal.js";
import { ANALYST_LIMITS, EMAIL_PATTERN, normaliseEmail, type CreatedAnalyst } from "./analysts-types.js";
import { generatePassword, hashPassword } from "./password.js";

export function createAnalystsService({ prisma, now = () => new Date() }: { prisma: PrismaClient; now?: () => Date }) {
  return {
    async create(input: { orgId: string; email: string; name?: string }): Promise<CreatedAnalyst> {
      const email = normaliseEmail(input.email);
      const name = input.name?.trim();
      const fieldErrors: Record<string, string[]> = {};
      if (email.length > ANALYST_LIMITS.emailChars || !EMAIL_PATTERN.test(email)) fieldErrors.email = [`must be an email address (at most ${ANALYST_LIMITS.emailChars} characters)`];
      if (name !== undefined && (name.length < 1 || name.length > ANALYST_LIMITS.nameChars)) fieldErrors.name = [`must be 1-${ANALYST_LIMITS.nameChars} characters`];
      if (Object.keys(fieldErrors).length) throw new ValidationError("invalid analyst", fieldErrors);
      if (!(await orgsDal.findById(prisma, input.orgId))) throw new NotFoundError("org");

      const password = generatePassword();
      try {
        const row = await analystsDal.create(prisma, { id: newId.analyst(), orgId: input.orgId, email, name: name ?? null, passwordHash: await hashPassword(password) });
        return { id: row.id, orgId: row.orgId, email: row.email, password };
      } catch (e) {
        // Unique across orgs, disabled analysts included: sign-in finds an analyst by email alone.
        if (isUniqueViolation(e)) throw new ConflictError("an analyst with this email already exists", "email_taken");
        throw e;
      }
    },

    /** Disables the analyst and ends every session of theirs at once; disabling again changes nothing. */
    async disable(id: string): Promise<{ id: string; disabledAt: string }> {
      return inTransaction(prisma, async (tx) => {
        const [row] = await analystsDal.disable(tx, id, now());
        const disabled = row ?? (await analystsDal.findById(tx, id));
        if (!disabled) throw new NotFoundError("analyst");
        await consoleSessionsDal.deleteAllOf(tx, id);
        return { id: disabled.id, disabledAt: disabled.disabledAt!.toISOString() };
      });
    },
  };
}
export type AnalystsService = ReturnType<typeof createAnalystsService>;
