/**
 * Leases with a queue of waiters on one Redis server: lockstep's semaphores, read-write locks
 * and elections are one driver over the scripts of `queue-scripts.ts`, each kind with its keys
 * and the count a request declares.
 *
 * Round trips: tryAcquire 1 (drop dead holders and lapsed waiters, judge, admit with a fencing
 * token — or refuse), release 1 (remove our entries, PUBLISH the ids of the waiters that now get
 * in), isHeld 1; renewals 1 per window for every lock and lease due in it (`batch.ts`).
 *
 * Waiting is a queue on the server: a waiter's first attempt takes a place in it, and a free
 * place goes to the head, so the releaser cannot take it straight back past the waiters. A
 * waiter sleeps until a wake-up names it, until the holders' leases alone would let it in (an
 * expiry publishes nothing), or until core's doubling fallback re-check — each re-check also
 * renews its place. A wait that ends without a grant leaves the queue, passing its wake-up on.
 * @module
 */
import type { HolderInfo } from '@lockstep/core';
import {
  type AcquireRequest,
  type LeaseGrant,
  type LockRef,
  type LockWatch,
  type QueuePosition,
  waitInQueue,
} from '@lockstep/core/driver';
import type { KeyBatch } from './batch.js';
import { answer } from './errors.js';
import { monitoredGrant } from './grant.js';
import type { QueuedKeys } from './keys.js';
import { WAITER_REGISTRATION_MS } from './locks.js';
import type { LossMonitor } from './loss-monitor.js';
import { PERMITS_HELD, QUEUE_INSPECT, type QueueScripts } from './queue-scripts.js';
import type { ReleaseFeed } from './release-feed.js';

/** One attempt's outcome: a grant, or in how many ms the holders' leases alone would let it in. */
export type Attempt = { readonly grant: LeaseGrant } | { readonly retryInMs: number };

/** What a driver can tell of who holds and who waits. */
export interface Inspection {
  readonly holders: readonly HolderInfo[];
  readonly waiting?: number;
}

const GRANTED: QueuePosition<number> = { kind: 'granted' };

/** Reads a `{1, token}` or `{0, ms}` reply of an acquire script. */
export function readAttempt(reply: unknown, grantFor: (token: bigint) => LeaseGrant): Attempt {
  const [acquired, detail] = reply as [number, number | string];
  if (Number(acquired) === 1) return { grant: grantFor(BigInt(detail)) };
  const ms = Number(detail);
  return { retryInMs: ms < 0 ? Number.POSITIVE_INFINITY : ms };
}

/**
 * Waits on `watch` (opened before the first attempt, so no wake-up can slip between it and the
 * wait) until `attempt` grants. A grant that raced an abort is given back; otherwise `leave`
 * takes the waiter's place out of the queue.
 */
export async function waitForGrant(
  watch: LockWatch,
  attempt: () => Promise<Attempt>,
  signal: AbortSignal,
  leave: () => Promise<unknown>,
): Promise<LeaseGrant> {
  let grant: LeaseGrant | undefined;
  let kept = false;
  const attemptNow = () =>
    attempt().then((outcome): QueuePosition<number> => {
      if ('grant' in outcome) {
        grant = outcome.grant;
        return GRANTED;
      }
      return { kind: 'waiting', wait: outcome.retryInMs };
    });
  try {
    await waitInQueue(
      {
        next: async (retryInMs, fallbackMs, stop) => {
          // +1 ms: the server drops an entry once its deadline has passed; arrive just after.
          const bound = Math.min(fallbackMs, retryInMs + 1);
          const began = performance.now();
          await watch.next(bound, stop);
          // A wake-up ends the wait before the bound; the timer at it or after.
          const woke = performance.now() - began < bound;
          if (stop.aborted) return { next: { kind: 'waiting', wait: retryInMs }, woke };
          return { next: await attemptNow(), woke };
        },
      },
      await attemptNow(),
      signal,
    );
    kept = true;
    return grant!;
  } catch (error) {
    if (grant) await grant.release().catch(() => {});
    else await leave().catch(() => {});
    throw error;
  } finally {
    watch.close(kept);
  }
}

/** One kind of queued lease. */
export interface QueuedKind<R extends LockRef> {
  keysOf(ref: R): QueuedKeys;
  /** The count a request declares (a semaphore's permits; 1 for a writer or a candidate). */
  declared(ref: R): number;
  readonly scripts: QueueScripts;
  /** ARGV appended to the acquire script's own (an election's value). */
  extraArgs?(ref: R): readonly string[];
}

/** The operations of one kind of queued lease. */
export interface QueuedLeases<R extends LockRef> {
  tryAcquire(request: AcquireRequest<R>): Promise<LeaseGrant | null>;
  acquire(request: AcquireRequest<R>, signal: AbortSignal): Promise<LeaseGrant>;
  inspect(ref: R): Promise<Inspection>;
}

const isOne = (reply: unknown) => Number(reply) === 1;

/** Queued leases of `kind` over one server's connection, its release feed and its loss monitor. */
export function queuedLeases<R extends LockRef>(
  batch: KeyBatch,
  feed: ReleaseFeed,
  monitor: LossMonitor,
  kind: QueuedKind<R>,
): QueuedLeases<R> {
  const { client } = batch;
  const { scripts } = kind;

  /**
   * `sentAt`: when the attempt was sent. The lease is counted from then — core would count an
   * `acquire`'s grant from its arrival, after the server started the lease.
   */
  function grantFor(
    keys: QueuedKeys,
    request: AcquireRequest<R>,
    fencingToken: bigint,
    sentAt: number,
  ): LeaseGrant {
    const { ownerId: owner, ttlMs } = request;
    const ownArgs = [owner, keys.channel];
    return monitoredGrant(
      {
        extend: (ttl, urgent) =>
          answer(batch.extendPermit(keys.holders, owner, ttl, 0, urgent), 'extend', Boolean),
        release: () => answer(scripts.release.run(client, keys.scriptKeys, ownArgs), 'release', isOne),
        isHeld: () =>
          answer(PERMITS_HELD.run(client, [keys.holders], [owner, 0]), 'isHeld', (held) =>
            isOne((held as unknown[])[0]),
          ),
      },
      monitor,
      { key: keys.holders, owner, windowMs: 0, fencingToken, validUntil: sentAt + ttlMs },
    );
  }

  /** One attempt; `registrationMs` > 0 takes (or keeps) a place in the queue when refused. */
  function attempt(keys: QueuedKeys, request: AcquireRequest<R>, registrationMs: number): Promise<Attempt> {
    const { ownerId, ttlMs, lock } = request;
    const args = [
      ownerId,
      keys.channel,
      ttlMs,
      kind.declared(lock),
      registrationMs,
      ...(kind.extraArgs?.(lock) ?? []),
    ];
    const sentAt = performance.now();
    return answer(scripts.acquire.run(client, keys.scriptKeys, args), 'acquire', (reply) =>
      readAttempt(reply, (token) => grantFor(keys, request, token, sentAt)),
    );
  }

  return {
    tryAcquire(request) {
      const keys = kind.keysOf(request.lock);
      return attempt(keys, request, 0).then((outcome) => ('grant' in outcome ? outcome.grant : null));
    },

    acquire(request, signal) {
      const keys = kind.keysOf(request.lock);
      return waitForGrant(
        feed.watchNamed(keys, request.ownerId),
        () => attempt(keys, request, WAITER_REGISTRATION_MS),
        signal,
        () => scripts.withdraw.run(client, keys.scriptKeys, [request.ownerId, keys.channel]),
      );
    },

    async inspect(ref) {
      const keys = kind.keysOf(ref);
      const reply = await answer(
        QUEUE_INSPECT.run(client, [keys.holders, keys.queued.tokens, keys.queued.waiting], []),
        'inspect',
        (r) => r as Array<string | number>,
      );
      const holders: HolderInfo[] = [];
      for (let i = 0; i + 2 < reply.length; i += 3) {
        const token = String(reply[i + 1]);
        holders.push({
          owner: String(reply[i]),
          ...(token === '' ? {} : { fencingToken: BigInt(token) }),
          leftMs: Number(reply[i + 2]),
        });
      }
      return { holders, waiting: Number(reply.at(-1)) };
    },
  };
}
