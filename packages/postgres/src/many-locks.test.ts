/**
 * One coordinator holding many locks: its sessions keep them, one statement per session per
 * period however many locks ride on it (no per-lock renewals, no per-lock health checks).
 */
import type { LockHandle } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { describe, expect, it } from 'vitest';
import { countingPool, freshPrefix, open, overPool } from './test-support.js';

const server = useServer('postgres');

const LOCKS = 10_000;
const TTL_MS = 2_000;

/** Runs `fn` over `items`, at most `width` at a time. */
async function inWaves<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    results.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  }
  return results;
}

describe('many locks on one coordinator', () => {
  it(`${LOCKS} locks at ttlMs ${TTL_MS} stay held for twice their TTL, checked from a second coordinator`, async () => {
    const prefix = freshPrefix();
    const counted = countingPool(server.url, 2);
    const holder = overPool(counted.pool, { prefix });
    const other = await open(server.url, { prefix });
    const names = Array.from({ length: LOCKS }, (_, i) => `many-${i}`);
    const handles: LockHandle[] = await inWaves(names, 1_000, (name) =>
      holder.lock(name, { ttlMs: TTL_MS }).acquire(),
    );
    const heldFrom = performance.now();
    const statementsBefore = counted.statements;
    await new Promise((resolve) => setTimeout(resolve, 2 * TTL_MS));
    const statementsDuringHold = counted.statements - statementsBefore;
    const lost = handles.filter((h) => h.signal.aborted);
    expect(lost.length, `${lost.length} of ${LOCKS} locks lost while held`).toBe(0);
    // One keep-alive per third of a TTL on the one session, not one check per lock.
    expect(statementsDuringHold).toBeLessThan(30);
    const refused = await inWaves(names, 1_000, (name) => other.lock(name, { ttlMs: TTL_MS }).tryAcquire());
    expect(refused.filter((r) => r !== null).length, 'locks the second coordinator could take').toBe(0);
    expect(performance.now() - heldFrom).toBeGreaterThan(2 * TTL_MS);
    expect(handles.filter((h) => h.signal.aborted).length).toBe(0);
    await inWaves(handles, 1_000, (h) => h.release());
  }, 90_000);
});
