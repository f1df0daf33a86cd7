/**
 * An Express app whose deposits take a lock per account. The read, the decision and the write
 * of one deposit must not interleave with another deposit to the same account — on this
 * instance or any other — so they run under the account's lock; the lock's fencing token goes
 * with the write, and the database refuses it if a newer holder has written meanwhile.
 */
import { type Coordinator, LockTimeoutError } from '@lockstep/core';
import express from 'express';
import type pg from 'pg';
import { readBalance, writeBalance } from './accounts.js';

/** What the app needs. */
export interface AppOptions {
  /** Where the locks live: any lockstep backend that declares monotonic fencing. */
  readonly coord: Coordinator;
  /** The database holding the accounts. */
  readonly db: pg.Pool;
  /** How long a deposit waits for its account's lock before answering 409. */
  readonly waitMs: number;
  /** The lock's lease; it is renewed while the deposit runs. */
  readonly ttlMs: number;
}

/** Builds the app: `POST /accounts/:id/deposits` with `{ "amount": 5 }`, `GET /accounts/:id`. */
export function createApp({ coord, db, waitMs, ttlMs }: AppOptions): express.Express {
  const app = express();
  app.use(express.json());

  app.post('/accounts/:id/deposits', async (req, res) => {
    const id = req.params.id;
    const amount: unknown = req.body?.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) {
      res.status(400).json({ error: 'amount must be a positive integer' });
      return;
    }
    try {
      const result = await coord.lock(`account:${id}`, { ttlMs }).withLock(
        async (held) => {
          const balance = (await readBalance(db, id)) + amount;
          const written = await writeBalance(db, id, balance, held.fencingToken);
          return { written, balance, token: held.fencingToken };
        },
        { waitMs },
      );
      if (!result.written) {
        // This request's lock ran out while it stalled and a newer holder has written since.
        res.status(409).json({ error: 'stale', detail: 'the lock was lost; the write was refused' });
        return;
      }
      res.json({ balance: result.balance, fencingToken: result.token.toString() });
    } catch (error) {
      if (!(error instanceof LockTimeoutError)) throw error; // Express 5 passes it to the error handler
      res
        .status(409)
        .set('Retry-After', '1')
        .json({ error: 'busy', detail: 'another deposit holds the account' });
    }
  });

  app.get('/accounts/:id', async (req, res) => {
    res.json({ balance: await readBalance(db, req.params.id) });
  });

  return app;
}
