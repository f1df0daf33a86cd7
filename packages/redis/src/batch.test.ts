import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyBatch, RENEWAL_WINDOW_MS } from './batch.js';

/** A client that answers every renewal script with "ours" for each key. */
function fakeClient() {
  const sent: number[] = [];
  const scripts: string[] = [];
  const client = {
    evalsha: async (sha: string, keyCount: number) => {
      sent.push(keyCount);
      scripts.push(sha);
      return Array.from({ length: keyCount }, () => 1);
    },
  } as unknown as Redis;
  return { client, sent, scripts };
}

describe('KeyBatch', () => {
  afterEach(() => vi.useRealTimers());

  it('holds automatic renewals back for the window so they share one script', async () => {
    vi.useFakeTimers();
    const { client, sent } = fakeClient();
    const batch = new KeyBatch(client);
    const renewals = [batch.extend('a', 'o', 60_000), batch.extend('b', 'o', 60_000)];
    await vi.advanceTimersByTimeAsync(RENEWAL_WINDOW_MS - 1);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await Promise.all(renewals)).toEqual([true, true]);
    expect(sent).toEqual([2]);
  });

  it('sends an explicit extend() at once, taking the pending renewals along', async () => {
    vi.useFakeTimers();
    const { client, sent } = fakeClient();
    const batch = new KeyBatch(client);
    const pending = batch.extend('a', 'o', 60_000);
    const urgent = batch.extend('b', 'o', 60_000, true);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([2]);
    expect(await Promise.all([pending, urgent])).toEqual([true, true]);
  });

  it('renews semaphore permits in the same window as locks, each kind in one script of its own', async () => {
    vi.useFakeTimers();
    const { client, sent, scripts } = fakeClient();
    const batch = new KeyBatch(client);
    const renewals = [
      batch.extend('lock-a', 'o', 60_000),
      batch.extendPermit('sem-s', 'o1', 60_000, 0),
      batch.extend('lock-b', 'o', 60_000),
      batch.extendPermit('sem-s', 'o2', 60_000, 0),
    ];
    await vi.advanceTimersByTimeAsync(RENEWAL_WINDOW_MS);
    expect(await Promise.all(renewals)).toEqual([true, true, true, true]);
    expect(sent).toEqual([2, 2]);
    expect(new Set(scripts).size).toBe(2);
  });
});
