import { describe, expect, it } from 'vitest';
import { createCoordinator } from './coordinator.js';
import type { BackendDriver } from './driver.js';
import { UnsupportedError } from './errors.js';
import { connectMemory, MEMORY_CAPABILITIES } from './memory/index.js';

describe('coordinator.inspect', () => {
  it('tells who holds a lock, with its token and lease left, and how many wait', async () => {
    const a = connectMemory('inspect');
    const b = connectMemory('inspect');
    expect(await a.inspect('job')).toEqual({ name: 'job', holders: [], waiting: 0 });
    const held = await a.lock('job', { ttlMs: 5_000 }).acquire();
    const waiting = b.lock('job').acquire();
    const seen = await b.inspect('job');
    expect(seen.holders).toHaveLength(1);
    expect(seen.holders[0]!.fencingToken).toBe(held.fencingToken);
    expect(seen.holders[0]!.leftMs).toBeGreaterThan(4_000);
    expect(seen.holders[0]!.leftMs).toBeLessThanOrEqual(5_000);
    expect(seen.waiting).toBe(1);
    await held.release();
    await (await waiting).release();
    await a.close();
    await b.close();
  });

  it('is UnsupportedError where the driver cannot tell', async () => {
    const driver: BackendDriver = {
      backend: 'memory',
      capabilities: MEMORY_CAPABILITIES,
      locks: { tryAcquire: async () => null },
      close: async () => {},
    };
    await expect(createCoordinator(driver).inspect('x')).rejects.toBeInstanceOf(UnsupportedError);
  });
});
