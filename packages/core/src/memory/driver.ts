/**
 * `memory://NAME`: the reference backend, in-process. A lock is granted by the space in
 * FIFO order; the holder's lease expires on a timer unless renewed; every grant gets the
 * next token of the name.
 * @module
 */
import type { AcquireRequest, BackendDriver, CounterRef, LeaseGrant, ResourceRef } from '../driver.js';
import type { LossFlag } from '../loss.js';
import type { Capabilities } from '../types.js';
import { type MemorySpace, memorySpace } from './space.js';

/** What memory:// guarantees: everything, within one process. */
export const MEMORY_CAPABILITIES: Capabilities = {
  lock: {
    fencing: 'monotonic',
    lease: 'per-lock',
    minTtlMs: 1,
    ttlGranularityMs: 1,
    waiting: 'notify',
    fairness: 'fifo',
    faultTolerance: 'single-node',
  },
  counter: { supported: true, bounds: true },
};

function lockKey(ref: ResourceRef): string {
  return JSON.stringify(['lock', ref.prefix, ref.name]);
}

function counterKey(ref: CounterRef): string {
  return JSON.stringify(['counter', ref.prefix, ref.name]);
}

/** A driver over the named space. */
export function memoryDriver(spaceName: string): BackendDriver {
  const space = memorySpace(spaceName);
  return {
    backend: 'memory',
    capabilities: MEMORY_CAPABILITIES,
    locks: {
      async tryAcquire(request) {
        const holder = space.tryLock(lockKey(request.lock), request.ownerId, request.ttlMs);
        return holder ? grantFor(space, request, holder) : null;
      },
      acquire(request, signal) {
        return new Promise<LeaseGrant>((resolve, reject) => {
          if (signal.aborted) return reject(signal.reason);
          let leave: (() => boolean) | undefined;
          const onAbort = () => {
            // Still queued: leave. Already granted: the grant resolved first; nothing to do.
            if (leave?.()) reject(signal.reason);
          };
          // Listen before enqueueing: a free lock is granted inside enqueue(), and its callback
          // must find the listener there to remove (the signal is often the coordinator's own,
          // shared by every acquire: a listener left behind per acquire piles up).
          signal.addEventListener('abort', onAbort, { once: true });
          leave = space.enqueue(lockKey(request.lock), request.ownerId, request.ttlMs, (holder) => {
            signal.removeEventListener('abort', onAbort);
            resolve(grantFor(space, request, holder));
          });
        });
      },
    },
    counters: {
      get: async (ref) => space.counterGet(counterKey(ref)),
      add: async (ref, delta) => space.counterAdd(counterKey(ref), delta, ref),
      set: async (ref, value) => space.counterSet(counterKey(ref), value),
      compareAndSet: async (ref, expected, next) =>
        space.counterCompareAndSet(counterKey(ref), expected, next),
    },
    close: async () => {},
  };
}

function grantFor(
  space: MemorySpace,
  request: AcquireRequest,
  holder: { token: bigint; lost: LossFlag; expiresAt: number },
): LeaseGrant {
  const key = lockKey(request.lock);
  const owner = request.ownerId;
  return {
    fencingToken: holder.token,
    lost: holder.lost,
    validUntil: performance.now() + (holder.expiresAt - Date.now()),
    renew: async (ttlMs) => space.renew(key, owner, ttlMs),
    release: async () => space.unlock(key, owner),
    isHeld: async () => space.isHeldBy(key, owner),
  };
}
