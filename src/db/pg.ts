import { randomUUID } from "node:crypto";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";

type Res = { fields?: { dataTypeID: number }[] } | undefined;
const charAsText = (r: Res | Res[]) => {
  for (const x of Array.isArray(r) ? r : [r]) for (const f of x?.fields ?? []) if (f.dataTypeID === 18) f.dataTypeID = 25;
  return r;
};

/**
 * adapter-pg cannot decode PostgreSQL's internal "char" type (OID 18) that the schema engine's catalog
 * queries return; report it as text. Used on the migration pool only.
 */
class CharAsTextClient extends pg.Client {
  override query(...args: unknown[]): never {
    const cb = args.at(-1);
    if (typeof cb === "function") {
      args[args.length - 1] = (err: unknown, res: Res) => (cb as (e: unknown, r: unknown) => void)(err, charAsText(res));
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const r = (super.query as (...a: unknown[]) => unknown)(...args) as Promise<Res> | undefined;
    return (r && typeof r.then === "function" ? r.then(charAsText) : r) as never;
  }
}

function migrationAdapter(connectionString: string, max: number) {
  return new PrismaPg(new pg.Pool({ connectionString, max, Client: CharAsTextClient }), { disposeExternalPool: true });
}

/**
 * Migration adapter for PostgreSQL. adapter-pg's own shadow database, built from a connection string,
 * silently targets the MAIN database and leaks on cleanup: create and drop shadow databases ourselves.
 */
export function pgMigrationFactory(url: string): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",
    connect: () => migrationAdapter(url, 2).connect(),
    connectToShadowDb: async (): Promise<SqlDriverAdapter> => {
      const name = `prisma_migrate_shadow_db_${randomUUID()}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`CREATE DATABASE "${name}"`);
      const shadowUrl = new URL(url);
      shadowUrl.pathname = `/${name}`;
      const shadow = await migrationAdapter(shadowUrl.toString(), 1).connect();
      const closePool = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        await closePool();
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.end();
      };
      return shadow;
    },
  };
}
