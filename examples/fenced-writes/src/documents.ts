/**
 * The protected resource: a PostgreSQL table whose rows remember the fencing token of the
 * last write. A write carrying a token that is not larger is refused by the UPDATE's WHERE
 * clause — atomically, in the database — so a lock holder that was paused past its lease
 * (GC, SIGSTOP, a VM migration) cannot overwrite what the next holder wrote.
 */
import type pg from 'pg';

export async function createDocumentsTable(db: pg.Pool, table: string): Promise<void> {
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${table} (
       id text PRIMARY KEY,
       body text NOT NULL,
       fencing_token numeric(20) NOT NULL
     )`,
  );
}

/** Writes `body` if `token` is larger than the row's last token. Returns whether it did. */
export async function fencedWrite(
  db: pg.Pool,
  table: string,
  id: string,
  body: string,
  token: bigint,
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO ${table} (id, body, fencing_token) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, fencing_token = EXCLUDED.fencing_token
     WHERE ${table}.fencing_token < EXCLUDED.fencing_token`,
    [id, body, token.toString()],
  );
  return result.rowCount === 1;
}

export async function readDocument(db: pg.Pool, table: string, id: string) {
  const result = await db.query<{ body: string; fencing_token: string }>(
    `SELECT body, fencing_token FROM ${table} WHERE id = $1`,
    [id],
  );
  const row = result.rows[0];
  return row ? { body: row.body, token: BigInt(row.fencing_token) } : undefined;
}
