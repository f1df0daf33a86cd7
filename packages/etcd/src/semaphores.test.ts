/**
 * Semaphores on a real etcd: the `smallest` rule for clients declaring different counts, round
 * trips, and which waiters a release wakes.
 */
import { type Coordinator, connect, type LockHandle } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import type { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import './index.js';
import { driverOf, keysUnder, rawClient } from './test-support/etcd.js';

const etcd = useServer('etcd');
const open: Coordinator[] = [];
const clients: Etcd3[] = [];

async function coordinator(prefix: string): Promise<Coordinator> {
  const c = await connect(etcd.url, { prefix });
  open.push(c);
  return c;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  for (const c of clients.splice(0)) c.close();
});

/**
 * Starts `acquire` and resolves once the queue holds `n` keys (so arrivals keep their order),
 * with the acquire still pending (wrapped: a promise returned bare would be awaited too).
 */
async function queueUp(acquire: () => Promise<LockHandle>, queue: string, n: number) {
  const client = rawClient(etcd.url);
  clients.push(client);
  const waiting = acquire();
  await keysUnder(client, queue, n);
  return { waiting };
}

/** Whether `promise` is still pending after the event loop had a chance to settle it. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const first = await Promise.race([promise, new Promise((r) => setTimeout(() => r(marker), 200))]);
  return first === marker;
}

describe('etcd semaphores', () => {
  it("rule 'smallest': a client never sees more holders than it declared, and arrivals keep their order", async () => {
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => coordinator('sem-mismatch')));
    const queue = 'sem-mismatch/semaphores/x/';
    const first = await a!.semaphore('x', { permits: 3 }).acquire();
    // One holder already: a client that allows one is refused, one that allows three is not.
    expect(await b!.semaphore('x', { permits: 1 }).tryAcquire()).toBeNull();
    const second = await c!.semaphore('x', { permits: 3 }).tryAcquire();
    expect(second).not.toBeNull();
    const { waiting: narrow } = await queueUp(() => b!.semaphore('x', { permits: 1 }).acquire(), queue, 3);
    // Two holders of three, but the one-permit client waits ahead of it: FIFO keeps it waiting.
    const { waiting: wide } = await queueUp(() => d!.semaphore('x', { permits: 3 }).acquire(), queue, 4);
    await first.release();
    expect(await pending(narrow)).toBe(true);
    await second!.release();
    const alone = await narrow;
    // The one-permit client holds: nobody beside it, whatever the others allow.
    expect(await pending(wide)).toBe(true);
    await alone.release();
    const last = await wide;
    expect(last.fencingToken).toBeGreaterThan(alone.fencingToken);
    await last.release();
  });

  it('acquires in one round trip and releases in one; a refused try costs one more to leave', async () => {
    const c = await coordinator('sem-rt');
    const { rpc } = driverOf(c).context;
    const sem = c.semaphore('x', { permits: 1 });
    await (await sem.acquire()).release();
    const before = rpc.calls;
    const held = await sem.acquire();
    expect(rpc.calls - before).toBe(1);
    expect(await held.release()).toBe(true);
    expect(rpc.calls - before).toBe(2);
    const other = await coordinator('sem-rt');
    const taken = await other.semaphore('x', { permits: 1 }).acquire();
    const tried = rpc.calls;
    expect(await sem.tryAcquire()).toBeNull();
    expect(rpc.calls - tried).toBe(2);
    await taken.release();
  });

  it('a release wakes only the waiters it can let in: those with the released key among the N just ahead', async () => {
    const holders = await coordinator('sem-herd');
    const waiters = await Promise.all([1, 2, 3, 4].map(() => coordinator('sem-herd')));
    const queue = 'sem-herd/semaphores/x/';
    const sem = (c: Coordinator) => c.semaphore('x', { permits: 2 });
    const held = [await sem(holders).acquire(), await sem(holders).acquire()];
    const waits: Promise<LockHandle>[] = [];
    for (const [i, w] of waiters.entries())
      waits.push((await queueUp(() => sem(w).acquire(), queue, i + 3)).waiting);
    const deleted = () => waiters.map((w) => driverOf(w).context.waits.wakes.deleted);
    let before = deleted();
    // The oldest holder goes: only the first waiter (two from the front) watches it.
    await held[0]!.release();
    const third = await waits[0]!;
    let after = deleted();
    expect(after[0]! - before[0]!).toBe(1);
    expect(after.slice(1)).toEqual(before.slice(1));
    before = after;
    // The other original holder: the first two remaining waiters watch it; one of them gets in.
    await held[1]!.release();
    const fourth = await waits[1]!;
    after = deleted();
    expect(after[1]! - before[1]!).toBe(1);
    expect(after[2]! - before[2]!).toBeLessThanOrEqual(1);
    expect(after[3]).toBe(before[3]);
    expect(await pending(waits[2]!)).toBe(true);
    for (const h of [third, fourth]) await h.release();
    for (const w of waits.slice(2)) await (await w).release();
  });
});
