/**
 * Waiting on a real server, as seen from other processes and coordinators: a waiter paused
 * while queued, and the order waiters from several coordinators are served in.
 */
import { hash64 } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import { describe, expect, it } from 'vitest';
import { pgLocksIdentity } from './keys.js';
import { spawnScript } from './test-support/spawn.js';
import { advisoryLocks, eventually, freshPrefix, open, rawClient, within } from './test-support.js';

const server = useServer('postgres');

describe('a waiter paused while queued', () => {
  it('never comes back with the grant it lost while paused: it is refused or gets a fresh one', async () => {
    const prefix = freshPrefix();
    const name = 'paused-waiter';
    const ttlMs = 1_000;
    const a = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const id = pgLocksIdentity({ kind: 'bigint', key: hash64(prefix, name) });
    const queued = async () =>
      (await advisoryLocks(raw)).filter((r) => !r.granted && r.classid === id.classid && r.objid === id.objid)
        .length;

    for (let round = 0; round < 3; round++) {
      const first = await a.lock(name, { ttlMs }).acquire();
      const waiter = spawnScript('./paused-waiter.ts', [server.url, prefix, name, String(ttlMs)]);
      await waiter.next('waiting');
      await eventually(async () => (await queued()) === 1, 10_000, 'the child waiting in the server queue');
      waiter.child.kill('SIGSTOP');
      // The server grants the paused waiter; its silent connection ends one TTL later, and A
      // gets the lock again with a larger token.
      await first.release();
      const again = await within(a.lock(name, { ttlMs }).acquire({ waitMs: 10_000 }), 12_000, 'A again');
      await again.release();
      waiter.child.kill('SIGCONT');

      const outcome = await Promise.race([waiter.next('granted'), waiter.next('rejected')]);
      if (outcome.event !== 'granted') continue;
      const what = `round ${round}: the resumed waiter got`;
      expect(BigInt(outcome.token as string), `${what} an older token`).toBeGreaterThan(again.fencingToken);
      expect(outcome.aborted, `${what} a handle already lost`).toBe(false);
      expect(outcome.held, `${what} a handle it does not hold`).toBe(true);
    }
  }, 60_000);
});
