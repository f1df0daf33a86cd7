/**
 * Read-write locks on file://, across processes: readers share, a writer excludes everyone, a
 * reader that comes after a waiting writer waits behind it, and a killed holder's side comes back
 * as soon as its pid is gone.
 */
import { describe, expect, it } from 'vitest';
import {
  eventually,
  holdersOf,
  killed,
  renewalsSeen,
  startContender,
  startHolder,
  ticketsOf,
} from './test-support/children.js';
import { holdsOf, overlap, tokenInversions } from './test-support/holds.js';
import { scratchDirectory } from './test-support/scratch.js';

const { dir, coordinator } = scratchDirectory('rwlock');

const tickets = (name: string) => ticketsOf(dir, name, 'rwlock');
const holders = (name: string) => holdersOf(dir, name, 'rwlock');

describe('file:// read-write locks', () => {
  it('readers and writers in several processes: a writer never holds beside anyone', async () => {
    const name = 'mixed-processes';
    const sides = ['read', 'write', 'read', 'write', 'read'] as const;
    const cycles = 8;
    const contenders = sides.map((side) =>
      startContender({ dir, name, ttlMs: 5_000, mode: 'cycle', cycles, holdMs: 3, side }),
    );
    await Promise.all(contenders.map((c) => c.next('ready')));
    for (const c of contenders) c.send('go');
    await Promise.all(contenders.map((c) => c.next('done')));

    const holds = holdsOf(contenders);
    expect(holds).toHaveLength(sides.length * cycles);
    expect(holds.every((h) => h.releasedAt !== undefined)).toBe(true);
    const beside = holds.filter(
      (w) => sides[w.contender] === 'write' && holds.some((h) => h !== w && overlap(w, h)),
    );
    expect(beside).toEqual([]);
    expect(new Set(holds.map((h) => h.token)).size).toBe(holds.length);
    expect(tokenInversions(holds)).toEqual([]);
    expect(holders(name)).toEqual([]);
    expect(tickets(name)).toEqual([]);
  });

  it('a reader that comes after a waiting writer waits behind it, across processes', async () => {
    const name = 'writer-first';
    // Short leases: the first reader renews every 100 ms, and each renewal wakes every waiter.
    const first = await startHolder({ dir, name, ttlMs: 300, side: 'read' });
    const rw = coordinator().readWriteLock(name, { ttlMs: 300 });
    const writing = rw.write.acquire({ waitMs: 20_000 });
    await eventually('the writer ticket', () => tickets(name).length === 1);
    const later = startContender({ dir, name, ttlMs: 5_000, mode: 'hold', side: 'read' });
    await eventually('the later reader ticket', () => tickets(name).length === 2);

    // A read fits beside the first reader, but the writer is ahead of it.
    await renewalsSeen(dir, name, 'rwlock', 3);
    expect(later.events.some((e) => e.event === 'acquired')).toBe(false);
    expect(await coordinator().readWriteLock(name).read.tryAcquire()).toBeNull();

    await killed(first);
    const writer = await writing;
    expect(writer.fencingToken).toBeGreaterThan(first.token);
    await renewalsSeen(dir, name, 'rwlock', 3);
    expect(later.events.some((e) => e.event === 'acquired')).toBe(false);
    expect(holders(name).map((h) => h.mode)).toEqual(['write']);

    await writer.release();
    const { token } = await later.next('acquired');
    expect(BigInt(token!)).toBeGreaterThan(writer.fencingToken);
  });

  it("a SIGKILLed writer's lock is free as soon as its pid is gone, long before its lease ends", async () => {
    const name = 'killed-writer';
    const writer = await startHolder({ dir, name, ttlMs: 30_000, side: 'write' });
    const rw = coordinator().readWriteLock(name);
    const readers = [rw.read.acquire({ waitMs: 10_000 }), rw.read.acquire({ waitMs: 10_000 })];
    await eventually('the reader tickets', () => tickets(name).length === 2);

    await killed(writer);
    const killedAt = performance.now();
    const granted = await Promise.all(readers);
    // The writer's lease runs for 30 s: only its dead pid can have let the readers in.
    expect(performance.now() - killedAt).toBeLessThan(10_000);
    for (const reader of granted) expect(reader.fencingToken).toBeGreaterThan(writer.token);
    // Both readers hold at once.
    expect(holders(name).map((h) => h.mode)).toEqual(['read', 'read']);
    for (const reader of granted) await reader.release();
  });

  it('read-write lock x, lock x and semaphore x are different files', async () => {
    const coord = coordinator();
    const write = await coord.readWriteLock('x').write.tryAcquire();
    const lock = await coord.lock('x').tryAcquire();
    const permit = await coord.semaphore('x', { permits: 1 }).tryAcquire();
    expect([write, lock, permit].every((held) => held !== null)).toBe(true);
    expect(holders('x')).toHaveLength(1);
    for (const held of [write, lock, permit]) await held!.release();
  });
});
