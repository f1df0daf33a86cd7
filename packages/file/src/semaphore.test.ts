/**
 * Semaphores on file://: K holders across processes and never more, a killed holder's permit
 * back at once, arrival order across coordinators and processes whatever count each declares,
 * and a release that wakes only the waiters it lets in.
 */
import type { LockHandle } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { criticalSectionCount } from './flock.js';
import { queueArrivals } from './test-support/arrivals.js';
import {
  type Contender,
  eventually,
  holdersOf,
  killed,
  renewalsSeen,
  startContender,
  startHolder,
  ticketsOf,
} from './test-support/children.js';
import { holdsOf, mostAtOnce, tokenInversions } from './test-support/holds.js';
import { scratchDirectory } from './test-support/scratch.js';

const { dir, coordinator } = scratchDirectory('semaphore');

const tickets = (name: string) => ticketsOf(dir, name, 'semaphore');
const holders = (name: string) => holdersOf(dir, name, 'semaphore');

/** Critical sections the contender has entered, asked now. */
async function sectionsOf(contender: Contender): Promise<number> {
  const answered = contender.events.filter((e) => e.event === 'count').length;
  contender.send('count');
  return (await contender.next('count', answered)).sections!;
}

describe('file:// semaphores', () => {
  it('K permits across processes: never more than K holders at once, and all K used', async () => {
    const name = 'limit-across-processes';
    const permits = 2;
    const cycles = 10;
    const contenders = Array.from({ length: 5 }, () =>
      startContender({ dir, name, ttlMs: 5_000, mode: 'cycle', cycles, holdMs: 5, permits }),
    );
    await Promise.all(contenders.map((c) => c.next('ready')));
    for (const c of contenders) c.send('go');
    await Promise.all(contenders.map((c) => c.next('done')));

    const holds = holdsOf(contenders);
    expect(holds).toHaveLength(5 * cycles);
    expect(holds.every((h) => h.releasedAt !== undefined)).toBe(true);
    // Never more than K, and all K were used by the contending processes.
    expect(mostAtOnce(holds)).toBe(permits);
    expect(new Set(holds.map((h) => h.token)).size).toBe(holds.length);
    expect(tokenInversions(holds)).toEqual([]);
    expect(holders(name)).toEqual([]);
    expect(tickets(name)).toEqual([]);
  });

  it("a SIGKILLed holder's permit is free as soon as its pid is gone, long before its lease ends", async () => {
    const name = 'killed-holder';
    const victim = await startHolder({ dir, name, ttlMs: 30_000, permits: 2 });
    const survivor = await startHolder({ dir, name, ttlMs: 30_000, permits: 2 });
    const semaphore = coordinator().semaphore(name, { permits: 2 });
    expect(await semaphore.tryAcquire()).toBeNull();
    const waiting = semaphore.acquire({ waitMs: 10_000 });
    await eventually('the waiter ticket', () => tickets(name).length === 1);

    await killed(victim);
    const killedAt = performance.now();
    const permit = await waiting;
    // Both leases run for 30 s: only the dead pid can have let the waiter in.
    expect(performance.now() - killedAt).toBeLessThan(2_000);
    expect(permit.fencingToken).toBeGreaterThan(victim.token);
    expect(permit.fencingToken).toBeGreaterThan(survivor.token);
    // The dead holder's entry went with the grant; the live one kept its permit.
    expect(holders(name).map((h) => h.pid)).toEqual([survivor.pid, process.pid]);
    expect(await coordinator().semaphore(name, { permits: 2 }).tryAcquire()).toBeNull();
    expect(survivor.events.some((e) => e.event === 'lost')).toBe(false);
    await permit.release();
  });

  it('serves waiters in arrival order across coordinators and processes, several permits at a time', async () => {
    const name = 'arrival';
    const owner = coordinator().semaphore(name, { permits: 2 });
    const held = [await owner.acquire(), await owner.acquire()];
    const arrivals = ['A', 'p1', 'B', 'p2', 'C', 'D'];
    const grantOrder = await queueArrivals({ dir, name, permits: 2, labels: arrivals, coordinator });
    await Promise.all(held.map((permit) => permit.release()));
    const order = await grantOrder();
    expect(order).toEqual(arrivals);
  });

  it('nobody passes the head: a waiter that would fit waits behind one that declared a smaller count', async () => {
    const name = 'head-first';
    // Short leases: the holders renew every 100 ms, and each renewal wakes every waiter.
    const wide = coordinator().semaphore(name, { permits: 3, ttlMs: 300 });
    const first = await wide.acquire();
    const second = await wide.acquire();
    // 2 held: a client declaring 2 does not fit, one declaring 3 would.
    const narrow = coordinator().semaphore(name, { permits: 2 }).acquire({ waitMs: 20_000 });
    await eventually('the narrow ticket', () => tickets(name).length === 1);
    const behind = startContender({ dir, name, ttlMs: 5_000, mode: 'hold', permits: 3 });
    await eventually('the wide ticket behind it', () => tickets(name).length === 2);

    await renewalsSeen(dir, name, 'semaphore', 3);
    expect(behind.events.some((e) => e.event === 'acquired')).toBe(false);
    expect(holders(name)).toHaveLength(2);

    await first.release();
    const narrowPermit = await narrow;
    // Now a holder declared 2 and 2 hold: the client declaring 3 still does not fit.
    await renewalsSeen(dir, name, 'semaphore', 3);
    expect(behind.events.some((e) => e.event === 'acquired')).toBe(false);
    expect(holders(name).map((h) => h.permits)).toEqual([3, 2]);

    await second.release();
    const { token } = await behind.next('acquired');
    expect(BigInt(token!)).toBeGreaterThan(narrowPermit.fencingToken);
    expect(holders(name).map((h) => h.permits)).toEqual([2, 3]);
    await narrowPermit.release();
  });

  it('a release wakes only as many waiters as it freed permits, and costs O(1) sections', async () => {
    const name = 'wake-only-enough';
    const permits = 3;
    const owner = coordinator().semaphore(name, { permits, ttlMs: 30_000 });
    const held: LockHandle[] = [await owner.acquire(), await owner.acquire(), await owner.acquire()];
    const granted: LockHandle[] = [];
    const waiters = 30;
    const locals = [coordinator(), coordinator(), coordinator()].map((c) =>
      c.semaphore(name, { permits, ttlMs: 30_000 }),
    );
    const pending = Array.from({ length: waiters }, (_, i) =>
      locals[i % 3]!.acquire({ waitMs: 60_000 }).then((permit) => {
        granted.push(permit);
      }),
    );
    await eventually('every local ticket', () => tickets(name).length === waiters);
    // A waiter in another process, behind all of them: no release lets it in.
    const outsider = startContender({ dir, name, ttlMs: 30_000, mode: 'hold', permits });
    await eventually('the outsider ticket', () => tickets(name).length === waiters + 1);
    const outsiderBefore = await sectionsOf(outsider);
    const before = criticalSectionCount();

    // One permit freed: one grant, the others keep their tickets.
    await held.pop()!.release();
    await eventually('one grant', () => granted.length >= 1);
    expect(granted).toHaveLength(1);
    expect(holders(name)).toHaveLength(permits);
    expect(tickets(name)).toHaveLength(waiters);

    // Two freed at once: two grants.
    await Promise.all(held.splice(0).map((permit) => permit.release()));
    await eventually('two more grants', () => granted.length >= 3);
    expect(granted).toHaveLength(3);
    expect(holders(name)).toHaveLength(permits);
    expect(tickets(name)).toHaveLength(waiters - 2);

    // Then handoffs one at a time through the rest of the local waiters.
    for (let handoff = 0; handoff < waiters - 3; handoff++) {
      const count = granted.length;
      await granted[handoff]!.release();
      await eventually(`grant ${count + 1}`, () => granted.length > count);
      expect(holders(name)).toHaveLength(permits);
    }
    await Promise.all(pending);
    const perGrant = (criticalSectionCount() - before) / waiters;
    // Each grant: the release and the section that grants (now and then a look that found the
    // permit taken). A release that woke every waiter would cost one section per waiter.
    expect(perGrant, `${perGrant.toFixed(2)} critical sections per grant`).toBeLessThanOrEqual(4);
    // The outsider's ticket was never first: its process read the file on each change but
    // entered no section (its ticket lease of 30 s needed no renewal either).
    expect((await sectionsOf(outsider)) - outsiderBefore).toBeLessThanOrEqual(1);
    expect(outsider.events.some((e) => e.event === 'acquired')).toBe(false);
    for (const permit of granted.slice(waiters - 3)) await permit.release();
    await outsider.next('acquired');
  });

  it('a lapsed holder of this process is told before its permit is given to another here', async () => {
    for (const primitive of ['lock', 'semaphore'] as const) {
      const name = `lapsed-first-${primitive}`;
      const coord = coordinator();
      const open = (options: { ttlMs?: number; autoExtend?: boolean } = {}) =>
        primitive === 'lock' ? coord.lock(name, options) : coord.semaphore(name, { ...options, permits: 1 });
      const lapsing = await open({ ttlMs: 100, autoExtend: false }).acquire();
      const waiting = open().acquire({ waitMs: 10_000 });
      await eventually('the waiter ticket', () => ticketsOf(dir, name, primitive).length === 1);
      // A stalled event loop: when it turns again, the lease is over and every timer is due at
      // once, the waiter's re-check (due first) among them, before the holder's own expiry.
      const stalledUntil = performance.now() + 200;
      while (performance.now() < stalledUntil) {}
      const next = await waiting;
      // No yield in between: the old holder must already know.
      expect(lapsing.signal.aborted, primitive).toBe(true);
      expect(next.fencingToken).toBeGreaterThan(lapsing.fencingToken);
      await next.release();
    }
  });

  it('semaphore x and lock x are different files', async () => {
    const coord = coordinator();
    const lock = await coord.lock('x').tryAcquire();
    const permit = await coord.semaphore('x', { permits: 1 }).tryAcquire();
    expect(lock).not.toBeNull();
    expect(permit).not.toBeNull();
    expect(holdersOf(dir, 'x', 'lock')).toHaveLength(1);
    expect(holdersOf(dir, 'x', 'semaphore')).toHaveLength(1);
    await lock!.release();
    await permit!.release();
  });
});
