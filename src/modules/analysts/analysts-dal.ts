import type { DbClient } from "../../db/types.js";

export const analystsDal = {
  create(db: DbClient, data: { id: string; orgId: string; email: string; name: string | null; passwordHash: string }) {
    return db.analyst.create({ data, select: { id: true, orgId: true, email: true } });
  },
  findByEmail(db: DbClient, email: string) {
    return db.analyst.findUnique({ where: { email }, select: { id: true, orgId: true, email: true, name: true, passwordHash: true, disabledAt: true } });
  },
  findById(db: DbClient, id: string) {
    return db.analyst.findUnique({ where: { id }, select: { id: true, disabledAt: true } });
  },
  /** Sets disabled_at unless already set; returns the rows it changed. */
  disable(db: DbClient, id: string, at: Date) {
    return db.analyst.updateManyAndReturn({ where: { id, disabledAt: null }, data: { disabledAt: at }, select: { id: true, disabledAt: true } });
  },
  setPasswordHash(db: DbClient, id: string, passwordHash: string) {
    return db.analyst.update({ where: { id }, data: { passwordHash }, select: { id: true } });
  },
};
