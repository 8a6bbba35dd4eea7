// Bulk seeding of verification attempts for the benches (bench:attempts, bench:export): generate_series, one
// statement per 100 k rows, never one request per row, with the schema's real indexes in place, plus a
// neighbour org holding a tenth as many rows (so every query must select its org out of a shared table), then
// VACUUM ANALYZE (the state autovacuum keeps a production table in).
import pg from "pg";

const BATCH = 100_000;
export const SEED_METHODS = ["nik_format", "nik_dukcapil", "ktp_capture", "face_liveness", "face_match"];

export async function seedAttempts(url: string, o: { orgId: string; neighbourId: string; keyId: string; size: number; customers: number }): Promise<number> {
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  const t0 = performance.now();
  try {
    const seedCustomers = (orgId: string, tag: string) =>
      sql.query(
        `INSERT INTO customers (id, org_id, kyc_tier, created_at, updated_at)
         SELECT 'c${tag}' || lpad(i::text, 12, '0'), $1, 'none', now(), now() FROM generate_series(1, ${o.customers}) AS i`,
        [orgId],
      );
    await seedCustomers(o.orgId, "bench");
    await seedCustomers(o.neighbourId, "nbr");
    // Row i: methods cycle (1 in 5 is nik_dukcapil), a third fail with a reason, one row every 30 s of history.
    const seedRows = (orgId: string, tag: string, from: number, to: number, keyId: string | null) =>
      sql.query(
        `INSERT INTO verifications (id, org_id, customer_id, method, status, score, reason, api_key_id, request_id, created_at)
         SELECT 'ver_${tag}' || lpad(i::text, 22, '0'), $1, 'c${tag}' || lpad((i % ${o.customers} + 1)::text, 12, '0'),
                (ARRAY['${SEED_METHODS.join("','")}'])[i % 5 + 1]::"VerificationMethod",
                CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'verified' END::"VerificationStatus",
                CASE WHEN i % 3 = 0 THEN NULL ELSE 60 + i % 40 END,
                CASE WHEN i % 3 = 0 THEN 'NIK not found in central registry' END,
                $2, 'req_bench_' || i, timestamptz '2024-01-01 00:00:00Z' + i * interval '30 seconds'
         FROM generate_series($3::int, $4::int) AS i`,
        [orgId, keyId, from, to],
      );
    for (let from = 1; from <= o.size; from += BATCH) {
      const to = Math.min(o.size, from + BATCH - 1);
      await seedRows(o.orgId, "bench", from, to, o.keyId);
      await seedRows(o.neighbourId, "nbr", from, from + Math.floor((to - from + 1) / 10) - 1, null);
    }
    await sql.query("VACUUM ANALYZE verifications");
  } finally {
    await sql.end();
  }
  return (performance.now() - t0) / 1000;
}
