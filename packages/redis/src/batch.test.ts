import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyBatch, RENEWAL_WINDOW_MS } from './batch.js';

/** A client that answers every compare-then-PEXPIRE script with "ours" for each key. */
function fakeClient() {
  const sent: number[] = [];
  const client = {
    evalsha: async (_sha: string, keyCount: number) => {
      sent.push(keyCount);
      return Array.from({ length: keyCount }, () => 1);
    },
  } as unknown as Redis;
  return { client, sent };
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
});
