import { describe, expect, it } from 'vitest';
import { type QueueStep, waitInQueue } from './queue.js';

describe('waitInQueue', () => {
  it('waits step by step until granted; a real change resets the fallback, silence doubles it', async () => {
    const fallbacks: number[] = [];
    const script: QueueStep<string>[] = [
      { next: { kind: 'waiting', wait: 'p1' }, woke: false },
      { next: { kind: 'waiting', wait: 'p1' }, woke: false },
      { next: { kind: 'waiting', wait: 'p2' }, woke: true },
      { next: { kind: 'granted' }, woke: true },
    ];
    await waitInQueue(
      {
        next: async (_wait, fallbackMs) => {
          fallbacks.push(fallbackMs);
          return script.shift()!;
        },
      },
      { kind: 'waiting', wait: 'p0' },
      new AbortController().signal,
      { initialMs: 10, maxMs: 30 },
    );
    expect(fallbacks).toEqual([10, 20, 30, 10]);
  });

  it('rejects with the reason when stopped, and when its entry or session is gone', async () => {
    const stop = new AbortController();
    const reason = new Error('stop');
    const pending = waitInQueue(
      {
        next: async () => {
          stop.abort(reason);
          return { next: { kind: 'waiting', wait: 1 }, woke: false };
        },
      },
      { kind: 'waiting', wait: 0 },
      stop.signal,
    );
    await expect(pending).rejects.toBe(reason);
    await expect(
      waitInQueue(
        { next: async () => ({ next: { kind: 'gone', why: 'key deleted' }, woke: true }) },
        { kind: 'waiting', wait: 0 },
        new AbortController().signal,
      ),
    ).rejects.toThrow('key deleted');
    const lost = { aborted: true, reason: new Error('session') };
    await expect(
      waitInQueue(
        { next: async () => ({ next: { kind: 'granted' }, woke: true }), lost },
        { kind: 'waiting', wait: 0 },
        new AbortController().signal,
      ),
    ).rejects.toThrow(/session was lost/);
  });
});
