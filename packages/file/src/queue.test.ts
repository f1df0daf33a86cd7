/**
 * The waiting queue: grants in arrival order across processes and coordinators, tickets
 * that never outlive their wait, and O(1) work per grant however many waiters a process has.
 */
import { LockTimeoutError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { monotonicNowMs, PID_NAMESPACE } from './clock.js';
import { criticalSectionCount } from './flock.js';
import { holds, ticketCounts } from './queue.js';
import { queueArrivals } from './test-support/arrivals.js';
import {
  eventually,
  fileOf,
  startContender,
  stopOutsideSection,
  ticketsOf,
} from './test-support/children.js';
import { scratchDirectory } from './test-support/scratch.js';

const { dir, coordinator } = scratchDirectory('queue');

/** Share of consecutive grants (in token order) that went to a different contender. */
function rotation(holders: readonly number[]): number {
  let changes = 0;
  for (let i = 1; i < holders.length; i++) if (holders[i] !== holders[i - 1]) changes++;
  return changes / (holders.length - 1);
}

describe('file:// waiting queue', () => {
  it('contending processes take turns: a releaser asking again goes behind the waiters', async () => {
    const name = 'turns';
    const cycles = 8;
    const contenders = [0, 1, 2].map(() =>
      startContender({ dir, name, ttlMs: 2_000, mode: 'cycle', cycles, holdMs: 10 }),
    );
    await Promise.all(contenders.map((c) => c.next('ready')));
    for (const c of contenders) c.send('go');
    await Promise.all(contenders.map((c) => c.next('done')));

    const grants = contenders
      .flatMap((c, index) =>
        c.events.filter((e) => e.event === 'acquired').map((e) => ({ index, token: BigInt(e.token!) })),
      )
      .sort((a, b) => (a.token < b.token ? -1 : 1));
    expect(grants).toHaveLength(3 * cycles);
    const holders = grants.map((g) => g.index);
    // Strict rotation gives 1; the last cycles may run alone once others are done. Before
    // the queue, the releaser re-took the lock before the woken waiters looked (runs of 5+).
    expect(rotation(holders), `grant order ${holders.join('')}`).toBeGreaterThanOrEqual(0.8);
    expect(ticketsOf(dir, name)).toEqual([]);
  });

  it('serves waiters in arrival order across coordinators and processes', async () => {
    const name = 'arrival';
    const owner = coordinator();
    const held = await owner.lock(name).acquire();
    const arrivals = ['A', 'p1', 'B', 'p2', 'C'];
    const grantOrder = await queueArrivals({ dir, name, labels: arrivals, coordinator });
    await held.release();
    const order = await grantOrder();
    expect(order).toEqual(arrivals);
  });

  it('drops the ticket of a SIGKILLed waiter: the next waiter is not held up', async () => {
    const name = 'killed-waiter';
    const owner = coordinator();
    const held = await owner.lock(name).acquire();
    const victim = startContender({ dir, name, ttlMs: 30_000, mode: 'hold' });
    await eventually('the victim ticket', () => ticketsOf(dir, name).some((t) => t.pid === victim.pid));
    const waiting = coordinator().lock(name).acquire({ waitMs: 10_000 });
    await eventually('two tickets', () => ticketsOf(dir, name).length === 2);
    victim.child.kill('SIGKILL');
    await new Promise((resolve) => victim.child.once('exit', resolve));
    const releasedAt = performance.now();
    await held.release();
    const next = await waiting;
    // Its ticket lease (30 s) is far off: only the dead pid lets the next waiter through.
    expect(performance.now() - releasedAt).toBeLessThan(2_000);
    expect(ticketsOf(dir, name).some((t) => t.pid === victim.pid)).toBe(false);
    await next.release();
  });

  it('a SIGSTOPped waiter at the head blocks the queue only until its ticket lease ends', async () => {
    const name = 'stopped-waiter';
    const ticketLeaseMs = 600;
    const owner = coordinator();
    const held = await owner.lock(name).acquire();
    const sleeper = startContender({ dir, name, ttlMs: ticketLeaseMs, mode: 'hold' });
    await eventually('the sleeper ticket', () => ticketsOf(dir, name).some((t) => t.pid === sleeper.pid));
    await stopOutsideSection(sleeper.child, fileOf(dir, name));
    const waiting = coordinator().lock(name).acquire({ waitMs: 10_000 });
    await eventually('two tickets', () => ticketsOf(dir, name).length === 2);
    const sleeperUntil = ticketsOf(dir, name)[0]!.until;
    await held.release();
    const next = await waiting;
    const grantedAt = monotonicNowMs();
    // Not before the stopped waiter's ticket lapsed (its place was kept while it counted) …
    expect(grantedAt).toBeGreaterThan(sleeperUntil);
    // … and soon after it (the room re-checks when the first ticket's lease ends).
    expect(grantedAt - sleeperUntil).toBeLessThan(1_500);
    expect(ticketsOf(dir, name).some((t) => t.pid === sleeper.pid)).toBe(false);

    // Resumed, the sleeper finds its ticket gone, queues again, and is served after us.
    sleeper.child.kill('SIGCONT');
    await eventually('the sleeper ticket again', () =>
      ticketsOf(dir, name).some((t) => t.pid === sleeper.pid),
    );
    await next.release();
    const { token } = await sleeper.next('acquired');
    expect(BigInt(token!)).toBeGreaterThan(next.fencingToken);
  });

  it('a timed-out or aborted waiter leaves no ticket, and the lock is free for a try', async () => {
    const name = 'stopped-waits';
    const owner = coordinator();
    const held = await owner.lock(name).acquire();
    const other = coordinator();

    const timedOut = other.lock(name).acquire({ waitMs: 200 });
    await eventually('the waiter ticket', () => ticketsOf(dir, name).length === 1);
    await expect(timedOut).rejects.toBeInstanceOf(LockTimeoutError);
    expect(ticketsOf(dir, name)).toEqual([]);

    const controller = new AbortController();
    const aborted = other.lock(name).acquire({ signal: controller.signal });
    await eventually('the waiter ticket', () => ticketsOf(dir, name).length === 1);
    const reason = new Error('stop waiting');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    // Removed before the rejection, not some time after it.
    expect(ticketsOf(dir, name)).toEqual([]);

    await held.release();
    const again = await other.lock(name).tryAcquire();
    expect(again).not.toBeNull();
    await again!.release();
  });

  it('W waiters in one coordinator cost O(1) critical sections per grant, not O(W)', async () => {
    const name = 'many-waiters';
    const waiters = 100;
    const coord = coordinator();
    const lock = coord.lock(name);
    const first = await lock.acquire();
    const before = criticalSectionCount();
    const granted: bigint[] = [];
    const all = Array.from({ length: waiters }, () =>
      lock.acquire({ waitMs: 60_000 }).then(async (handle) => {
        granted.push(handle.fencingToken);
        await handle.release();
      }),
    );
    await first.release();
    await Promise.all(all);
    const perGrant = (criticalSectionCount() - before) / waiters;
    expect(granted).toHaveLength(waiters);
    // Each grant: the release, the section that grants the next waiter, and now and then a
    // ticket renewal or a look that found the lock taken. Try-then-wait waiters, all woken by
    // every release, cost about W/2 attempts per grant (51.5 with 100 waiters).
    expect(perGrant, `${perGrant.toFixed(2)} critical sections per grant`).toBeLessThanOrEqual(4);
  });
});

describe('a record written from another PID namespace', () => {
  it('is not judged dead by its pid: only its lease ends its claim', () => {
    const now = monotonicNowMs();
    // A pid that is certainly not alive here (above the kernel's pid_max).
    const deadHere = 2 ** 22 + 1;
    const holder = {
      owner: 'o',
      pid: deadHere,
      pidns: PID_NAMESPACE,
      token: '1',
      deadline: now + 10_000,
      permits: 1,
    };
    expect(holds(holder, now)).toBe(false);
    expect(holds({ ...holder, pidns: 'pid:[1]' }, now)).toBe(true);
    expect(holds({ ...holder, pidns: 'pid:[1]', deadline: now - 1 }, now)).toBe(false);
    const ticket = { owner: 'o', pid: deadHere, until: now + 10_000 };
    expect(ticketCounts(ticket, now)).toBe(false);
    expect(ticketCounts({ ...ticket, pidns: 'pid:[1]' }, now)).toBe(true);
  });
});
