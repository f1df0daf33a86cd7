/**
 * Renewal costs O(1) round trips per period, not one per lock: 10,000 locks held by one
 * coordinator with auto-renew at a 2 s TTL stay held for twice their TTL — every one of them
 * refused to a second coordinator afterwards — while the server runs a few dozen renewal
 * scripts a second (renewed one by one, they were 15,000 a second). The figures are printed;
 * the assertions are safety bounds a per-lock renewal fails by two orders of magnitude.
 */
import type { LockHandle } from '@lockstep/core';
import { heapAfterGc } from '@lockstep/testing';
import { describe, expect, it } from 'vitest';
import { commandCalls, delay, freshPrefix, open, rawClient } from './test-support/helpers.js';
import { useRedisServer } from './test-support/servers.js';

const redis = useRedisServer();
const LOCKS = 10_000;
const TTL_MS = 2_000;
const IN_FLIGHT = 100;

/** Runs `task` for every index, `IN_FLIGHT` at a time. */
async function forEach<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

describe('redis:// renewal cost', () => {
  it(`keeps ${LOCKS} locks of one coordinator held for 2 × TTL with a few scripts per second, not one per lock`, async () => {
    const prefix = freshPrefix();
    const holder = await open(redis.handle.url, { prefix });
    const other = await open(redis.handle.url, { prefix });
    const raw = rawClient(redis.handle.url);
    const heapBefore = heapAfterGc();

    const acquireStart = performance.now();
    const handles: LockHandle[] = await forEach(LOCKS, (i) =>
      holder.lock(`job-${i}`, { ttlMs: TTL_MS }).acquire({ waitMs: 10_000 }),
    );
    const acquiredIn = performance.now() - acquireStart;
    const heapPerLock = (heapAfterGc() - heapBefore) / LOCKS;

    await raw.config('RESETSTAT');
    const cpuBefore = process.cpuUsage();
    const holdStart = performance.now();
    await delay(2 * TTL_MS);
    const holdMs = performance.now() - holdStart;
    const cpu = process.cpuUsage(cpuBefore);
    const scripts = (await commandCalls(raw, 'evalsha')) + (await commandCalls(raw, 'eval'));
    const extended = await commandCalls(raw, 'pexpire');

    // Held, as a second coordinator sees it: every one is refused.
    const taken = await forEach(LOCKS, (i) => other.lock(`job-${i}`, { ttlMs: TTL_MS }).tryAcquire());

    const perSecond = scripts / (holdMs / 1000);
    const cpuShare = (cpu.user + cpu.system) / 1000 / holdMs;
    console.log(
      `${LOCKS} locks, ttl ${TTL_MS} ms: acquired at ${Math.round(LOCKS / (acquiredIn / 1000))}/s; held ` +
        `${Math.round(holdMs)} ms with ${scripts} renewal scripts (${perSecond.toFixed(1)}/s) extending ` +
        `${extended} leases; heap ${Math.round(heapPerLock)} B per held lock; CPU ${(cpuShare * 100).toFixed(1)} % of one core`,
    );
    expect(taken.filter((h) => h !== null)).toHaveLength(0);
    expect(handles.filter((h) => h.signal.aborted)).toHaveLength(0);
    // Every lock was renewed (at least once per TTL) ...
    expect(extended).toBeGreaterThanOrEqual(2 * LOCKS);
    // ... by a bounded number of scripts: per lock, that would be 6 × LOCKS in 2 TTLs.
    expect(perSecond).toBeLessThan(200);
    await Promise.all(handles.map((h) => h.release()));
  }, 120_000);
});
