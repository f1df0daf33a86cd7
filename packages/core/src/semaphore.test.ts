import { describe, expect, it } from 'vitest';
import { createCoordinator } from './coordinator.js';
import type { BackendDriver } from './driver.js';
import { InvalidArgumentError, UnsupportedError } from './errors.js';
import { connectMemory, MEMORY_CAPABILITIES } from './memory/index.js';
import type { LockHandle } from './types.js';

describe('coordinator.semaphore', () => {
  it('checks permits and options before any I/O', () => {
    const coord = connectMemory('semaphore-input');
    for (const permits of [0, -1, 1.5, Number.NaN, '2', undefined]) {
      expect(() => coord.semaphore('s', { permits } as never), String(permits)).toThrow(InvalidArgumentError);
    }
    expect(() => coord.semaphore('s', { permits: 2, ttl: 5 } as never)).toThrow(/did you mean "ttlMs"/);
    expect(() => coord.semaphore('s', undefined as never)).toThrow(InvalidArgumentError);
  });

  it('is UnsupportedError on a backend that declares none, with its reason', () => {
    const driver: BackendDriver = {
      backend: 'memory',
      capabilities: {
        ...MEMORY_CAPABILITIES,
        semaphore: { supported: false, reason: 'no atomic counting here' },
      },
      locks: { tryAcquire: async () => null },
      close: async () => {},
    };
    const coord = createCoordinator(driver);
    expect(() => coord.semaphore('s', { permits: 2 })).toThrow(UnsupportedError);
    expect(() => coord.semaphore('s', { permits: 2 })).toThrow(/no atomic counting here/);
  });

  it('admits K holders, queues the next in arrival order, and keeps semaphore x apart from lock x', async () => {
    const coord = connectMemory('semaphore-fifo');
    const sem = coord.semaphore('x', { permits: 2 });
    const a = await sem.acquire();
    const b = await sem.acquire();
    expect(await sem.tryAcquire()).toBeNull();
    const lock = await coord.lock('x').tryAcquire();
    expect(lock).not.toBeNull();
    const order: string[] = [];
    const arrived = (label: string) => (permit: LockHandle) => {
      order.push(label);
      return permit;
    };
    const c = sem.acquire().then(arrived('c'));
    const d = sem.acquire().then(arrived('d'));
    await a.release();
    const first = await c;
    await b.release();
    const second = await d;
    expect(order).toEqual(['c', 'd']);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await Promise.all([first.release(), second.release(), lock!.release()]);
    await coord.close();
  });
});
