/**
 * One instance of the app. Run as many as you like against the same database and lock URL:
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres PORT=3000 npm start
 *   LOCKSTEP_URL=file:///tmp/locks ... npm start     (locks in a directory instead; same host only)
 * LOCKSTEP_URL defaults to DATABASE_URL: the locks then live in the same PostgreSQL.
 */
import type { AddressInfo } from 'node:net';
import { connect } from '@lockstep/core';
import '@lockstep/file'; // registers file://
import '@lockstep/postgres'; // registers postgres:// and postgresql://
import pg from 'pg';
import { createAccountsTable } from './accounts.js';
import { createApp } from './app.js';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('set DATABASE_URL, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres');
  process.exit(64);
}
const db = new pg.Pool({ connectionString: databaseUrl });
const coord = await connect(process.env.LOCKSTEP_URL ?? databaseUrl);
await createAccountsTable(db);
const app = createApp({
  coord,
  db,
  waitMs: Number(process.env.LOCK_WAIT_MS ?? 2_000),
  ttlMs: Number(process.env.LOCK_TTL_MS ?? 10_000),
});
const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port} (locks on ${coord.backend})`);
});
process.once('SIGTERM', () => {
  server.close();
  void Promise.all([coord.close(), db.end()]);
});
