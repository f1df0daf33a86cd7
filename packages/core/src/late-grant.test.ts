import { describe, expect, it } from 'vitest';
import { createCoordinator } from './coordinator.js';
import type { BackendDriver, LeaseGrant } from './driver.js';
import { BackendUnavailableError, LockLostError, LockTimeoutError } from './errors.js';
import { MEMORY_CAPABILITIES } from './memory/driver.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A per-lock driver whose replies take `latencyMs()` to arrive: the lease counts from when the
 * request was sent, as on a real server behind a slow link.
 */
function slowDriver(latencyMs: () => number, renewBlocksMs = 0) {
  let released = 0;
  let attempts = 0;
  const grant = (): LeaseGrant => ({
    fencingToken: BigInt(attempts),
    renew: async () => {
      // A blocked event loop (a GC pause, a long synchronous task): the reply is in hand only
      // once the lease is over, and no timer can run before the caller sees it.
      const until = performance.now() + renewBlocksMs;
      while (performance.now() < until);
      if (latencyMs() > 0) await delay(latencyMs());
      return true;
    },
    release: async () => {
      released++;
      return true;
    },
    isHeld: async () => true,
  });
  const driver: BackendDriver = {
    backend: 'memory',
    capabilities: MEMORY_CAPABILITIES,
    locks: {
      tryAcquire: async () => {
        attempts++;
        await delay(latencyMs());
        return grant();
      },
    },
    close: async () => {},
  };
  return { driver, released: () => released, attempts: () => attempts };
}

describe('a grant whose reply arrives after its lease could have ended', () => {
  it('is given back, never handed out; acquire retries and reports a backend too slow for the ttl', async () => {
    const slow = slowDriver(() => 120);
    const coord = createCoordinator(slow.driver);
    const error = await coord
      .lock('l', { ttlMs: 100 })
      .acquire()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(
      /3 grants in a row arrived with less than 10% of the 100 ms lease left/,
    );
    expect(slow.attempts()).toBe(3);
    expect(slow.released()).toBe(3);
    await coord.close();
  });

  it('tryAcquire gives it back and rejects at once', async () => {
    const slow = slowDriver(() => 120);
    const coord = createCoordinator(slow.driver);
    await expect(coord.lock('l', { ttlMs: 100 }).tryAcquire()).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
    expect(slow.released()).toBe(1);
    await coord.close();
  });

  it('a late grant within waitMs is retried; the next timely one is handed out with its lease left', async () => {
    let latency = 120;
    const slow = slowDriver(() => latency);
    const coord = createCoordinator(slow.driver);
    const pending = coord.lock('l', { ttlMs: 100, autoExtend: false }).acquire({ waitMs: 5_000 });
    await delay(60);
    latency = 5;
    const held = await pending;
    expect(slow.released()).toBe(1);
    expect(held.signal.aborted).toBe(false);
    await held.release();
    await coord.close();
  });

  it('with waitMs used up by late grants: LockTimeoutError, nothing held', async () => {
    const slow = slowDriver(() => 120);
    const coord = createCoordinator(slow.driver);
    await expect(coord.lock('l', { ttlMs: 100 }).acquire({ waitMs: 50 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    expect(slow.released()).toBe(slow.attempts());
    await coord.close();
  });

  it('extend() whose confirmation arrives after the lease ended rejects with LockLostError', async () => {
    const slow = slowDriver(() => 0, 150);
    const coord = createCoordinator(slow.driver);
    const held = await coord.lock('l', { ttlMs: 100, autoExtend: false }).acquire();
    await expect(held.extend()).rejects.toBeInstanceOf(LockLostError);
    expect(held.signal.aborted).toBe(true);
    await coord.close();
  });
});
