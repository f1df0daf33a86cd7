/**
 * Waking on a real server: a release wakes one local waiter, not all of them, so a grant costs a
 * few scripts however many wait in the coordinator (waking all cost half the waiters per grant:
 * 51.5 scripts at 100 waiters, 201.5 at 400); and the handoff reservation still reaches a waiter
 * that can take it when the releasing coordinator has waiters of its own.
 */
import type { LockHandle } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { commandCalls, delay, eventually, freshPrefix, open, rawClient } from './test-support/helpers.js';
import { useRedisServer } from './test-support/servers.js';

const redis = useRedisServer();

describe('redis:// waking', () => {
  for (const waiters of [100, 400]) {
    it(`${waiters} waiters in one coordinator: a few scripts per grant, not one per waiter`, async () => {
      const prefix = freshPrefix();
      const holder = await open(redis.handle.url, { prefix });
      const coord = await open(redis.handle.url, { prefix });
      const raw = rawClient(redis.handle.url);
      const first = await holder.lock('queue', { ttlMs: 30_000 }).acquire();
      await raw.config('RESETSTAT');
      const done = Array.from({ length: waiters }, () =>
        coord
          .lock('queue', { ttlMs: 30_000 })
          .acquire({ waitMs: 60_000 })
          .then((held) => held.release()),
      );
      // Every waiter made its first attempt and is waiting (server state: no event for it).
      await eventually(async () =>
        expect(await commandCalls(raw, 'evalsha')).toBeGreaterThanOrEqual(waiters),
      );
      // Not synchronisation: waiters that started together re-check together (250 ms, doubling
      // to 2 s); after 4.5 s their re-checks are 2 s apart, so few fall within the drain below.
      await delay(4_500);
      await raw.config('RESETSTAT');
      await first.release();
      await Promise.all(done);
      // Each grant costs its release and the woken waiter's attempt; anything more is a waiter
      // trying a lock that was held (woken for nothing, or its fallback re-check falling due).
      const scripts = await commandCalls(raw, 'evalsha');
      const wasted = scripts - (waiters + 1) - waiters;
      console.log(
        `${waiters} waiters in one coordinator: ${(scripts / waiters).toFixed(2)} scripts per grant, ${wasted} refused attempts`,
      );
      expect(wasted / waiters).toBeLessThan(0.5);
    }, 60_000);
  }

  it('a reserved lock goes to the other coordinator, although the releasing one wakes its own waiter too', async () => {
    const prefix = freshPrefix();
    // A long reservation: a waiter that is not woken would wait for its fallback re-check.
    const a = await open(redis.handle.url, { prefix, handoffMs: 10_000 });
    const b = await open(redis.handle.url, { prefix, handoffMs: 10_000 });
    const raw = rawClient(redis.handle.url);
    const held = await a.lock('reserved').acquire();
    const grants: string[] = [];
    const wait = (coord: typeof a, who: string) =>
      coord
        .lock('reserved')
        .acquire({ waitMs: 20_000 })
        .then((handle: LockHandle) => {
          grants.push(who);
          return handle;
        });
    const ownWaiter = wait(a, 'a');
    const otherWaiter = wait(b, 'b');
    // Both coordinators registered as waiting.
    await eventually(async () => expect(await raw.hlen(`${prefix}/waiters/reserved`)).toBe(2));
    const released = performance.now();
    await held.release();
    // Reserved for B: A's woken waiter is refused; B's woken waiter takes it at once.
    const fromB = await otherWaiter;
    const handedOffMs = performance.now() - released;
    expect(grants).toEqual(['b']);
    // Core's fallback re-check would come 200 ms or more after the wait began; a wake takes a round trip.
    expect(handedOffMs).toBeLessThan(150);
    // B's release reserves it for A, whose waiter is woken and can take it.
    await fromB.release();
    const fromA = await ownWaiter;
    expect(grants).toEqual(['b', 'a']);
    expect(fromA.fencingToken > fromB.fencingToken).toBe(true);
    await fromA.release();
  }, 30_000);
});
