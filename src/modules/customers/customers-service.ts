import type { PrismaClient } from "../../db/types.js";
import { isUniqueViolation } from "../../db/errors.js";
import { ConflictError, NotFoundError } from "../../errors.js";
import { newId } from "../../ids.js";
import { orgsDal } from "../orgs/orgs-dal.js";
import { customersDal } from "./customers-dal.js";

export interface CustomerView {
  id: string;
  externalRef: string | null;
  kycLevel: string;
  createdAt: string;
}

export function createCustomersService({ prisma }: { prisma: PrismaClient }) {
  return {
    async create(orgId: string, input: { externalRef?: string }): Promise<CustomerView> {
      if (!(await orgsDal.findById(prisma, orgId))) throw new NotFoundError("org");
      try {
        const c = await customersDal.create(prisma, { id: newId.customer(), orgId, externalRef: input.externalRef ?? null });
        return { id: c.id, externalRef: c.externalRef, kycLevel: c.kycTier, createdAt: c.createdAt.toISOString() };
      } catch (e) {
        if (isUniqueViolation(e)) throw new ConflictError("a customer with this externalRef already exists in your org", "external_ref_taken");
        throw e;
      }
    },
  };
}
export type CustomersService = ReturnType<typeof createCustomersService>;
