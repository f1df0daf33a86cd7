import { describe, expect, it } from 'vitest';
import { createCoordinator } from './coordinator.js';
import type { BackendDriver, LeaseGrant } from './driver.js';
import { LockLostError } from './errors.js';
import { LossFlag, type LossNotice } from './loss.js';
import { MEMORY_CAPABILITIES } from './memory/driver.js';

/** A one-lock driver whose renew behaviour the test controls. */
function scriptedDriver(
  renew: () => Promise<boolean>,
  lost?: { signal: LossNotice },
  lease: 'per-lock' | 'per-session' = 'per-lock',
) {
  let renewals = 0;
  let releases = 0;
  const grant: LeaseGrant = {
    fencingToken: 1n,
    lost: lost?.signal,
    renew: async () => {
      renewals++;
      return renew();
    },
    release: async () => {
      releases++;
      return true;
    },
    isHeld: async () => true,
  };
  const driver: BackendDriver = {
    backend: 'memory',
    capabilities: { ...MEMORY_CAPABILITIES, lock: { ...MEMORY_CAPABILITIES.lock, lease } },
    locks: { tryAcquire: async () => grant },
    close: async () => {},
  };
  return { driver, renewals: () => renewals, releases: () => releases };
}

function lostReason(signal: AbortSignal): Promise<LockLostError> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason));
  });
}

describe('lease handles', () => {
  it('renew answered "not yours" aborts the signal at once as stolen', async () => {
    const s = scriptedDriver(async () => false);
    const coord = createCoordinator(s.driver);
    const held = await coord.lock('x', { ttlMs: 90 }).acquire();
    const reason = await lostReason(held.signal);
    expect(reason).toBeInstanceOf(LockLostError);
    expect(reason.reason).toBe('stolen');
    expect(s.renewals()).toBe(1);
    await coord.close();
  });

  it('an unreachable backend is retried until the lease would have ended, then reported', async () => {
    const s = scriptedDriver(async () => {
      throw new Error('ECONNREFUSED');
    });
    const coord = createCoordinator(s.driver);
    const t0 = performance.now();
    const held = await coord.lock('x', { ttlMs: 150 }).acquire();
    const reason = await lostReason(held.signal);
    const elapsed = performance.now() - t0;
    expect(reason.reason).toBe('unreachable');
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_500);
    expect(s.renewals()).toBeGreaterThan(2);
    await coord.close();
  });

  it('a per-session lock whose renewals failed until its lease ended is given back', async () => {
    // The session may outlive the outage: without a release the lock would stay held by nobody.
    const s = scriptedDriver(
      async () => {
        throw new Error('ECONNREFUSED');
      },
      undefined,
      'per-session',
    );
    const coord = createCoordinator(s.driver);
    const held = await coord.lock('x', { ttlMs: 150 }).acquire();
    const reason = await lostReason(held.signal);
    expect(reason.reason).toBe('unreachable');
    await new Promise((r) => setImmediate(r));
    expect(s.releases()).toBe(1);
    expect(await held.release()).toBe(false);
    await coord.close();
  });

  it('a driver-side loss (session ended) aborts the signal with session-lost', async () => {
    const lost = new AbortController();
    const s = scriptedDriver(async () => true, lost);
    const coord = createCoordinator(s.driver);
    const held = await coord.lock('x', { ttlMs: 10_000 }).acquire();
    lost.abort(new Error('session expired'));
    const reason = await lostReason(held.signal);
    expect(reason.reason).toBe('session-lost');
    await expect(held.extend()).rejects.toBeInstanceOf(LockLostError);
    await coord.close();
  });

  it('a LossFlag loss aborts the signal, whether it was asked for before or only after', async () => {
    for (const askFirst of [true, false]) {
      const flag = new LossFlag();
      const s = scriptedDriver(async () => true, { signal: flag });
      const coord = createCoordinator(s.driver);
      const held = await coord.lock('x', { ttlMs: 10_000 }).acquire();
      const early = askFirst ? held.signal : undefined;
      expect(early?.aborted).not.toBe(true);
      flag.abort(new Error('node deleted'));
      expect(held.signal.aborted).toBe(true);
      if (early) expect(held.signal).toBe(early);
      expect((held.signal.reason as LockLostError).reason).toBe('session-lost');
      await expect(held.extend()).rejects.toBe(held.signal.reason);
      await coord.close();
    }
  });

  it('release never aborts the signal, stops renewal, and close() releases what is held', async () => {
    const s = scriptedDriver(async () => true);
    const coord = createCoordinator(s.driver);
    const a = await coord.lock('a', { ttlMs: 60 }).acquire();
    expect(await a.release()).toBe(true);
    const renewalsAfterRelease = s.renewals();
    await new Promise((r) => setTimeout(r, 100));
    expect(s.renewals()).toBe(renewalsAfterRelease);
    expect(a.signal.aborted).toBe(false);
    await coord.lock('b', { ttlMs: 60 }).acquire();
    await coord.close();
    expect(s.releases()).toBe(2);
    await expect(coord.lock('c').acquire()).rejects.toThrow(/closed/);
  });
});

describe('a grant kept by its session', () => {
  it('sends no renewals of its own and is lost when its session is', async () => {
    const lost = new LossFlag();
    let renewals = 0;
    const grant: LeaseGrant = {
      fencingToken: 1n,
      lost,
      session: { certainUntil: performance.now() + 60 },
      renew: async () => {
        renewals++;
        return true;
      },
      release: async () => true,
      isHeld: async () => true,
    };
    const driver: BackendDriver = {
      backend: 'memory',
      capabilities: { ...MEMORY_CAPABILITIES, lock: { ...MEMORY_CAPABILITIES.lock, lease: 'per-session' } },
      locks: { tryAcquire: async () => grant },
      close: async () => {},
    };
    const coord = createCoordinator(driver);
    const held = await coord.lock('l', { ttlMs: 60 }).acquire();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Well past its ttl: the session (not the handle) keeps it; no per-lock round trips.
    expect(renewals).toBe(0);
    expect(held.signal.aborted).toBe(false);
    lost.abort(new Error('session gone'));
    expect(held.signal.aborted).toBe(true);
    expect((held.signal.reason as LockLostError).reason).toBe('session-lost');
    await coord.close();
  });
});
