/**
 * Inspecting file:// locks and semaphores: the holders that still hold (owner, token, lease
 * left), holders in other processes included, and how many tickets still count.
 */
import { existsSync, realpathSync } from 'node:fs';
import { encodeName } from '@lockstep/core/driver';
import { describe, expect, it } from 'vitest';
import { Layout } from './layout.js';
import { fileSemaphores } from './locks.js';
import { eventually, fileOf, holdersOf, startHolder, ticketsOf } from './test-support/children.js';
import { scratchDirectory } from './test-support/scratch.js';

const { dir, coordinator } = scratchDirectory('inspect');

describe('file:// inspect', () => {
  it('a lock: its holder in another process, with token and lease left, and the waiters', async () => {
    const name = 'held-elsewhere';
    const holder = await startHolder({ dir, name, ttlMs: 30_000 });
    const coord = coordinator();
    const waits = [
      coord.lock(name).acquire({ waitMs: 20_000 }),
      coord.lock(name).acquire({ waitMs: 20_000 }),
    ];
    await eventually('two tickets', () => ticketsOf(dir, name).length === 2);

    const seen = await coord.inspect(name);
    const [recorded] = holdersOf(dir, name);
    expect(seen.name).toBe(name);
    expect(seen.holders).toHaveLength(1);
    expect(seen.holders[0]!.owner).toBe(recorded!.owner);
    expect(seen.holders[0]!.fencingToken).toBe(holder.token);
    expect(seen.holders[0]!.leftMs).toBeGreaterThan(20_000);
    expect(seen.holders[0]!.leftMs).toBeLessThanOrEqual(30_000);
    expect(seen.waiting).toBe(2);

    // Its pid gone, the holder is no longer one, whatever its lease says.
    holder.child.kill('SIGKILL');
    const next = await Promise.race(waits);
    const after = await coord.inspect(name);
    expect(after.holders.map((h) => h.fencingToken)).toEqual([next.fencingToken]);
    expect(after.waiting).toBe(1);
    await next.release();
    await (await Promise.all(waits)).find((h) => h !== next)!.release();
    expect(await coord.inspect(name)).toEqual({ name, holders: [], waiting: 0 });
  });

  it('a semaphore: every permit holder, and the waiters', async () => {
    const name = 'permits';
    const coord = coordinator();
    const semaphore = coord.semaphore(name, { permits: 2, ttlMs: 10_000 });
    const held = [await semaphore.acquire(), await semaphore.acquire()];
    const waiting = semaphore.acquire({ waitMs: 20_000 });
    await eventually('the ticket', () => ticketsOf(dir, name, 'semaphore').length === 1);

    const prefix = 'lockstep';
    const driver = fileSemaphores(new Layout(realpathSync(dir), encodeName(prefix)));
    const ref = { name, prefix, segment: encodeName(name), prefixSegment: encodeName(prefix), permits: 2 };
    const seen = await driver.inspect!(ref);
    expect(seen.holders.map((h) => h.fencingToken)).toEqual(held.map((h) => h.fencingToken));
    expect(seen.holders.map((h) => h.owner)).toEqual(holdersOf(dir, name, 'semaphore').map((h) => h.owner));
    for (const holder of seen.holders) expect(holder.leftMs).toBeGreaterThan(5_000);
    expect(seen.waiting).toBe(1);
    for (const permit of held) await permit.release();
    await (await waiting).release();
  });

  it('a name never used: nobody, and no file left behind', async () => {
    expect(await coordinator().inspect('never-used')).toEqual({
      name: 'never-used',
      holders: [],
      waiting: 0,
    });
    expect(existsSync(fileOf(dir, 'never-used'))).toBe(false);
  });
});
