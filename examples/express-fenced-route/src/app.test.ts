import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@lockstep/core';
import '@lockstep/file';
import '@lockstep/postgres';
import { type ServerHandle, startServer } from '@lockstep/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createAccountsTable, readBalance } from './accounts.js';
import { createApp } from './app.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-express-test-'));
let postgres: ServerHandle;
let db: pg.Pool;
beforeAll(async () => {
  postgres = await startServer('postgres');
  db = new pg.Pool({ connectionString: postgres.url });
  await createAccountsTable(db);
});
afterAll(async () => {
  await db?.end();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const freshAccount = () => `acct-${Math.random().toString(36).slice(2, 10)}`;

/** One instance of the app in this process, with its own coordinator, on an ephemeral port. */
async function instance(lockUrl: string, waitMs: number) {
  const coord = await connect(lockUrl);
  const server = createApp({ coord, db, waitMs, ttlMs: 5_000 }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    server.close();
    await coord.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** One instance of the app as its own process (`npm start`), so that it can be paused. */
async function instanceProcess(
  lockUrl: string,
  ttlMs: number,
): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@lockstep/source', join(import.meta.dirname, 'server.ts')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        DATABASE_URL: postgres.url,
        LOCKSTEP_URL: lockUrl,
        LOCK_TTL_MS: String(ttlMs),
        PORT: '0',
      },
    },
  );
  onTestFinished(() => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  let out = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the app exited (${code}) before listening: ${out}`)));
  });
  return { child, base };
}

const deposit = (base: string, id: string, amount = 1) =>
  fetch(`${base}/accounts/${id}/deposits`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amount }),
  });

/** Resolves once a statement reading the accounts table waits for a table lock in the server. */
async function aReadIsBlocked(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { rows } = await db.query(
      `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT balance FROM accounts%'`,
    );
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no read of the accounts table was seen waiting');
}

describe.each([
  ['postgres', () => postgres.url],
  ['file', () => `file://${dir}`],
])('deposits with locks on %s', (_, lockUrl) => {
  it('20 concurrent deposits across two instances add up exactly', async () => {
    const [a, b] = await Promise.all([instance(lockUrl(), 15_000), instance(lockUrl(), 15_000)]);
    const id = freshAccount();
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => deposit(i % 2 ? a : b, id)));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ balance: number }>));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    // Each deposit saw the one before it: the balances they report are 1..20, each once.
    expect(bodies.map((body) => body.balance).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    expect(await readBalance(db, id)).toBe(20);
  });

  it('answers 409 busy when the account stays locked past the wait, and writes nothing', async () => {
    const base = await instance(lockUrl(), 200);
    const id = freshAccount();
    const coord = await connect(lockUrl());
    onTestFinished(() => coord.close());
    const held = await coord.lock(`account:${id}`).acquire();
    const response = await deposit(base, id, 5);
    expect(response.status).toBe(409);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toMatchObject({ error: 'busy' });
    await held.release();
    expect(await readBalance(db, id)).toBe(0);
    expect((await deposit(base, id, 5)).status).toBe(200);
  });

  it("refuses the write of an instance that stalled past its lease (409 stale), keeping the newer holder's", async () => {
    const ttlMs = 1_000;
    const paused = await instanceProcess(lockUrl(), ttlMs);
    const other = await instance(lockUrl(), 20_000);
    const id = freshAccount();
    // Hold the table so that the paused instance's deposit stops between taking the lock and
    // reading; it is then frozen there, as a long GC pause or a stopped VM would freeze it.
    const blocker = await db.connect();
    onTestFinished(() => blocker.release());
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
    const late = deposit(paused.base, id, 100);
    await aReadIsBlocked();
    paused.child.kill('SIGSTOP');
    await blocker.query('COMMIT');

    // The other instance gets the account once the frozen one's lease has run out.
    const fresh = await deposit(other, id, 1);
    expect(fresh.status).toBe(200);
    expect(await fresh.json()).toMatchObject({ balance: 1 });

    paused.child.kill('SIGCONT');
    const stale = await late;
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ error: 'stale' });
    expect(await readBalance(db, id)).toBe(1);
  });
});
