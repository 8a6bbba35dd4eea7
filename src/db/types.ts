import type { Prisma, PrismaClient } from "../generated/prisma/client.js";

/** What every data-access function runs on: the root client or the transaction it is part of. */
export type DbClient = PrismaClient | Prisma.TransactionClient;
export type { PrismaClient };
