import { describe, expect, it } from 'vitest';
import { createCoordinator } from './coordinator.js';
import type { BackendDriver, LeaseGrant } from './driver.js';
import { LockTimeoutError } from './errors.js';
import { MEMORY_CAPABILITIES } from './memory/driver.js';
import { ReleaseHub } from './notify.js';

/** A try-then-wait driver over one in-process slot; `silent` drops release notifications. */
function slotDriver(options: { silent?: boolean } = {}) {
  const hub = new ReleaseHub();
  let owner: string | undefined;
  let attempts = 0;
  const driver: BackendDriver = {
    backend: 'memory',
    capabilities: { ...MEMORY_CAPABILITIES, lock: { ...MEMORY_CAPABILITIES.lock, fairness: 'none' } },
    locks: {
      tryAcquire: async (req): Promise<LeaseGrant | null> => {
        attempts++;
        if (owner) return null;
        owner = req.ownerId;
        return {
          fencingToken: BigInt(attempts),
          renew: async () => owner === req.ownerId,
          isHeld: async () => owner === req.ownerId,
          release: async () => {
            if (owner !== req.ownerId) return false;
            owner = undefined;
            if (!options.silent) hub.notify('slot');
            return true;
          },
        };
      },
      watch: () => hub.watch('slot'),
    },
    close: async () => {},
  };
  return { driver, attempts: () => attempts };
}

describe('waiting', () => {
  it('a notified waiter is granted right after release, without polling', async () => {
    const s = slotDriver();
    const coord = createCoordinator(s.driver);
    const held = await coord.lock('x').acquire();
    const waiting = coord.lock('x').acquire();
    await new Promise((r) => setTimeout(r, 50));
    const attemptsBefore = s.attempts();
    const t0 = performance.now();
    await held.release();
    const next = await waiting;
    expect(performance.now() - t0).toBeLessThan(100);
    expect(s.attempts() - attemptsBefore).toBe(1);
    await next.release();
    await coord.close();
  });

  it('a release wakes one local waiter, not all of them: attempts per grant stay O(1) with 100 waiters', async () => {
    const s = slotDriver();
    // A fallback re-check far beyond the test, so only notifications wake anyone.
    const coord = createCoordinator(s.driver, { recheck: { initialMs: 60_000, maxMs: 60_000 } });
    const first = await coord.lock('x').acquire();
    const order: number[] = [];
    const waiters = Array.from({ length: 100 }, (_, i) =>
      coord
        .lock('x')
        .acquire()
        .then(async (held) => {
          order.push(i);
          await held.release();
        }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const before = s.attempts();
    await first.release();
    await Promise.all(waiters);
    const perGrant = (s.attempts() - before) / 100;
    // Each release wakes exactly the next waiter, whose one attempt wins.
    expect(perGrant).toBeLessThanOrEqual(1.1);
    // The longest waiter goes first: arrival order.
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await coord.close();
  });

  it('a woken waiter that gives up passes the wake on', async () => {
    const s = slotDriver();
    const coord = createCoordinator(s.driver, { recheck: { initialMs: 60_000, maxMs: 60_000 } });
    const held = await coord.lock('x').acquire();
    const leaving = new AbortController();
    const first = coord
      .lock('x')
      .acquire({ signal: leaving.signal })
      .catch((e: unknown) => e);
    const second = coord.lock('x').acquire({ waitMs: 5_000 });
    await new Promise((r) => setTimeout(r, 20));
    // The release wakes the first waiter, which is aborted before it can use the wake.
    const released = held.release();
    leaving.abort(new Error('gone'));
    await released;
    expect(await first).toBeInstanceOf(Error);
    const next = await second;
    await next.release();
    await coord.close();
  });

  it('a lost notification is recovered by the bounded fallback re-check', async () => {
    const s = slotDriver({ silent: true });
    const coord = createCoordinator(s.driver, { recheck: { initialMs: 40, maxMs: 80 } });
    const held = await coord.lock('x').acquire();
    const waiting = coord.lock('x').acquire({ waitMs: 5_000 });
    await new Promise((r) => setTimeout(r, 30));
    await held.release();
    const next = await waiting;
    expect(next.signal.aborted).toBe(false);
    await next.release();
    await coord.close();
  });

  it('waitMs: 0 is a single attempt that rejects with LockTimeoutError', async () => {
    const s = slotDriver();
    const coord = createCoordinator(s.driver);
    const held = await coord.lock('x').acquire();
    const before = s.attempts();
    await expect(coord.lock('x').acquire({ waitMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(s.attempts() - before).toBe(1);
    await held.release();
    await coord.close();
  });

  it('close() cancels pending waits', async () => {
    const s = slotDriver();
    const coord = createCoordinator(s.driver);
    await coord.lock('x').acquire();
    const waiting = coord.lock('x').acquire();
    await coord.close();
    await expect(waiting).rejects.toThrow(/closed/);
  });
});

describe('a waiting process', () => {
  it('stays alive while it waits for a lock, even when nothing else holds the event loop', async () => {
    const { spawnSync } = await import('node:child_process');
    const indexUrl = new URL('./index.ts', import.meta.url).href;
    const kitUrl = new URL('./kit.ts', import.meta.url).href;
    // Only a silent watch and the fallback re-check timer are pending while the child waits.
    const script = `
      import { MEMORY_CAPABILITIES } from ${JSON.stringify(indexUrl)};
      import { createCoordinator, ReleaseHub } from ${JSON.stringify(kitUrl)};
      const hub = new ReleaseHub();
      let held = true;
      setTimeout(() => { held = false; }, 600).unref();
      const grant = { fencingToken: 1n, renew: async () => true, release: async () => true, isHeld: async () => true };
      const driver = { backend: 'memory', capabilities: MEMORY_CAPABILITIES, close: async () => {},
        locks: { tryAcquire: async () => (held ? null : grant), watch: () => hub.watch('x') } };
      const coord = createCoordinator(driver, { recheck: { initialMs: 50, maxMs: 100 } });
      const h = await coord.lock('x').acquire();
      console.log('acquired');
      await h.release();
      await coord.close();`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ stdout: result.stdout, stderr: result.stderr }).toMatchObject({ stdout: 'acquired\n' });
    expect(result.status).toBe(0);
  });
});

describe('waitMs', () => {
  it('may be fractional', async () => {
    const { connectMemory } = await import('./memory/index.js');
    const a = connectMemory('fractional-wait');
    const b = connectMemory('fractional-wait');
    const held = await a.lock('l').acquire();
    await expect(b.lock('l').acquire({ waitMs: 20.5 })).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
    await held.release();
    await a.close();
    await b.close();
  });
});

describe('waitMs counts from the call', () => {
  it('a slow first attempt uses up the wait: the rejection comes at waitMs, not waitMs after it', async () => {
    let attempts = 0;
    const driver: BackendDriver = {
      backend: 'memory',
      capabilities: { ...MEMORY_CAPABILITIES, lock: { ...MEMORY_CAPABILITIES.lock, fairness: 'none' } },
      locks: {
        tryAcquire: async () => {
          attempts++;
          await new Promise((r) => setTimeout(r, 500));
          return null;
        },
        watch: () => new ReleaseHub().watch('slot'),
      },
      close: async () => {},
    };
    const coord = createCoordinator(driver);
    const started = performance.now();
    await expect(coord.lock('x').acquire({ waitMs: 400 })).rejects.toBeInstanceOf(LockTimeoutError);
    const took = performance.now() - started;
    // The first attempt alone (500 ms) outlasts the 400 ms: no second wait of 400 ms after it.
    expect(took).toBeLessThan(800);
    expect(took).toBeGreaterThanOrEqual(395);
    expect(attempts).toBe(1);
    await coord.close();
  });
});
