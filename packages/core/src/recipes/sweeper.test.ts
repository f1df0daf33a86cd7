import { describe, expect, it } from 'vitest';
import { Sweeper } from './sweeper.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Sweeper', () => {
  it('retries with backoff until done, then settles the task once', async () => {
    const sweeper = new Sweeper({ initialMs: 5, maxMs: 20 });
    let attempts = 0;
    let settled = 0;
    sweeper.add({
      attempt: async () =>
        ++attempts < 4 ? (attempts === 2 ? Promise.reject(new Error('x')) : 'retry') : 'done',
      settled: () => settled++,
    });
    for (let i = 0; i < 100 && settled === 0; i++) await delay(10);
    expect(attempts).toBe(4);
    expect(settled).toBe(1);
    expect(sweeper.pending).toBe(0);
  });

  it('drops expired tasks and the oldest past its bound; flush() makes one last attempt and settles the rest', async () => {
    const sweeper = new Sweeper({ initialMs: 1_000, maxTasks: 2 });
    const settled: string[] = [];
    const attempted: string[] = [];
    const task = (name: string, until?: number) => ({
      until,
      attempt: async () => {
        attempted.push(name);
        return 'retry' as const;
      },
      settled: () => settled.push(name),
    });
    sweeper.add(task('a'));
    sweeper.add(task('b', performance.now() - 1));
    sweeper.add(task('c'));
    expect(settled).toEqual(['a']);
    await sweeper.flush();
    expect(attempted).toEqual(['c']);
    expect(settled.sort()).toEqual(['a', 'b', 'c']);
  });

  it('runs a round a few attempts at a time, so a burst of background deletes never floods the server', async () => {
    const sweeper = new Sweeper({ initialMs: 1, concurrency: 8 });
    let inFlight = 0;
    let most = 0;
    let settled = 0;
    for (let i = 0; i < 200; i++) {
      sweeper.add({
        attempt: async () => {
          most = Math.max(most, ++inFlight);
          await delay(1);
          inFlight--;
          return 'done';
        },
        settled: () => settled++,
      });
    }
    await sweeper.flush();
    expect(settled).toBe(200);
    expect(most).toBe(8);
  });
});
