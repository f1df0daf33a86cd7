/**
 * The data the route protects: account balances in PostgreSQL. Each row also keeps the fencing
 * token of its last write, and a write is accepted only with a larger token — checked and
 * applied in one statement, so a request that lost its lock while it stalled cannot overwrite
 * what the next holder wrote, however late it arrives.
 */
import type pg from 'pg';

/** Creates the table (idempotent). */
export async function createAccountsTable(db: pg.Pool): Promise<void> {
  await db.query(
    `CREATE TABLE IF NOT EXISTS accounts (
       id text PRIMARY KEY,
       balance bigint NOT NULL,
       fencing_token numeric(20) NOT NULL
     )`,
  );
}

/** The balance of `id`, 0 for an account never written. */
export async function readBalance(db: pg.Pool, id: string): Promise<number> {
  const { rows } = await db.query<{ balance: string }>('SELECT balance FROM accounts WHERE id = $1', [id]);
  return rows[0] ? Number(rows[0].balance) : 0;
}

/**
 * Stores `balance` for `id` if `token` is larger than the token of the row's last write.
 * Returns whether it did: `false` means a newer lock holder has written since.
 */
export async function writeBalance(
  db: pg.Pool,
  id: string,
  balance: number,
  token: bigint,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO accounts (id, balance, fencing_token) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, fencing_token = EXCLUDED.fencing_token
     WHERE accounts.fencing_token < EXCLUDED.fencing_token`,
    [id, balance, token.toString()],
  );
  return rowCount === 1;
}
