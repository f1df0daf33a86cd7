/**
 * `memory://NAME`: the reference backend, in-process. A lock is granted by the space in
 * FIFO order; the holder's lease expires on a timer unless renewed; every grant gets the
 * next token of the name.
 * @module
 */
import type {
  AcquireRequest,
  BackendDriver,
  CounterRef,
  ElectionDriver,
  ElectionRef,
  LeadershipGrant,
  LeaseGrant,
  LockDriver,
  LockRef,
  ReadWriteRef,
  ResourceRef,
  SemaphoreRef,
} from '../driver.js';
import type { Capabilities } from '../types.js';
import { type Claim, type Holder, type MemorySpace, memorySpace } from './space.js';

/** Each grant of memory:// (a lock, a permit, a side, a leadership) is fenced, FIFO, per-lock. */
const MEMORY_GRANTS = {
  fencing: 'monotonic',
  lease: 'per-lock',
  minTtlMs: 1,
  ttlGranularityMs: 1,
  waiting: 'notify',
  fairness: 'fifo',
  faultTolerance: 'single-node',
} as const;

/** What memory:// guarantees: everything, within one process. */
export const MEMORY_CAPABILITIES: Capabilities = {
  lock: MEMORY_GRANTS,
  counter: { supported: true, bounds: true },
  election: { supported: true, ...MEMORY_GRANTS, observe: 'notify', vacancies: true },
  readWrite: { supported: true, ...MEMORY_GRANTS, writerProgress: 'queued' },
  semaphore: { supported: true, ...MEMORY_GRANTS, mismatch: 'smallest' },
};

/** Keys of each primitive live apart: lock `x`, semaphore `x` and read-write lock `x` never collide. */
function leasedKey(kind: LeasedKind, ref: ResourceRef): string {
  return JSON.stringify([kind, ref.prefix, ref.name]);
}

function counterKey(ref: CounterRef): string {
  return JSON.stringify(['counter', ref.prefix, ref.name]);
}

type LeasedKind = 'lock' | 'semaphore' | 'rw' | 'election';

const ONE_PERMIT: Claim = { permits: 1 };

/** Locks, semaphores or read-write locks over the space: one algorithm, different claims. */
function leasedDriver<R extends LockRef>(
  space: MemorySpace,
  kind: LeasedKind,
  claimOf: (ref: R) => Claim,
): LockDriver<R> {
  return {
    async tryAcquire(request) {
      const key = leasedKey(kind, request.lock);
      const holder = space.tryAcquire(
        key,
        request.lock.name,
        request.ownerId,
        request.ttlMs,
        claimOf(request.lock),
      );
      return holder ? grantFor(space, key, request.ownerId, holder) : null;
    },
    inspect: async (ref) => space.inspect(leasedKey(kind, ref)),
    acquire(request, signal) {
      return new Promise<LeaseGrant>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const key = leasedKey(kind, request.lock);
        let leave: (() => boolean) | undefined;
        const onAbort = () => {
          // Still queued: leave. Already granted: the grant resolved first; nothing to do.
          if (leave?.()) reject(signal.reason);
        };
        // Listen before enqueueing: a free lock is granted inside enqueue(), and its callback
        // must find the listener there to remove (the signal is often the coordinator's own,
        // shared by every acquire: a listener left behind per acquire piles up).
        signal.addEventListener('abort', onAbort, { once: true });
        leave = space.enqueue(
          key,
          request.lock.name,
          request.ownerId,
          request.ttlMs,
          claimOf(request.lock),
          (holder) => {
            signal.removeEventListener('abort', onAbort);
            resolve(grantFor(space, key, request.ownerId, holder));
          },
        );
      });
    },
  };
}

/** A driver over the named space. */
export function memoryDriver(spaceName: string): BackendDriver {
  const space = memorySpace(spaceName);
  return {
    backend: 'memory',
    capabilities: MEMORY_CAPABILITIES,
    locks: leasedDriver<LockRef>(space, 'lock', () => ONE_PERMIT),
    semaphores: leasedDriver<SemaphoreRef>(space, 'semaphore', (ref) => ({ permits: ref.permits })),
    readWriteLocks: leasedDriver<ReadWriteRef>(space, 'rw', (ref) => ({ mode: ref.mode })),
    elections: electionDriver(space),
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

/** Elections over the space: a candidacy waits for the one permit; the leader's value rides on it. */
function electionDriver(space: MemorySpace): ElectionDriver {
  const candidacies = leasedDriver<ElectionRef>(space, 'election', (ref) => ({
    permits: 1,
    value: ref.value,
  }));
  const leadership = (grant: LeaseGrant, request: AcquireRequest<ElectionRef>): LeadershipGrant => {
    const key = leasedKey('election', request.lock);
    return {
      ...grant,
      fencingToken: grant.fencingToken!,
      proclaim: async (value) => space.proclaim(key, request.ownerId, value),
    };
  };
  return {
    tryCampaign: async (request) => {
      const grant = await candidacies.tryAcquire(request);
      return grant && leadership(grant, request);
    },
    campaign: async (request, signal) => leadership(await candidacies.acquire!(request, signal), request),
    leader: async (ref) => space.leader(leasedKey('election', ref)),
    observe: async (ref, onChange, signal) => {
      if (signal.aborted) return;
      const unwatch = space.watch(leasedKey('election', ref), ref.name, onChange);
      signal.addEventListener('abort', unwatch, { once: true });
    },
  };
}

function grantFor(space: MemorySpace, key: string, owner: string, holder: Holder): LeaseGrant {
  return {
    fencingToken: holder.token,
    lost: holder.lost,
    validUntil: performance.now() + (holder.expiresAt - Date.now()),
    renew: async (ttlMs) => space.renew(key, owner, ttlMs),
    release: async () => space.release(key, owner),
    isHeld: async () => space.isHeldBy(key, owner),
  };
}
