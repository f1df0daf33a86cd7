/**
 * Redlock across N independent Redis servers (`redlock://h1:p1,h2:p2,h3:p3`).
 *
 * One attempt: start a monotonic clock, send SET NX PX to every instance in parallel, and
 * decide as soon as floor(N/2)+1 agreed (or can no longer agree). The lease is ours until
 * `start + ttl − drift` (drift = driftFactor·ttl + 2 ms), which core's handle uses as its
 * expiry deadline. A failed attempt releases the key on EVERY instance at once — commands on
 * one connection run in order, so the release lands after our own SET even where it is
 * still in flight — so partial acquisitions never linger and vote against the next attempt.
 * Retries come from core's wait loop: woken by release notifications, or re-checking at the
 * moment a quorum of the holders' leases will have run out, with core's jittered fallback.
 *
 * Fewer than a quorum of instances answering is `BackendUnavailableError`, never a wait.
 * No fencing tokens: see `REDLOCK_CAPABILITIES`.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import {
  type AcquireRequest,
  backendFailure,
  type LeaseGrant,
  type LockDriver,
  type LockRef,
} from '@lockstep/core/driver';
import type { KeyBatch } from './batch.js';
import { monitoredGrant } from './grant.js';
import { cachedLockKeys, type LockKeys, validateNativeKey } from './keys.js';
import type { LossMonitor } from './loss-monitor.js';
import { collectQuorum, driftMs, type QuorumRound, quorumFreeInMs, quorumOf } from './quorum.js';
import type { ReleaseFeed } from './release-feed.js';
import { ACQUIRE_PLAIN, RELEASE } from './scripts.js';

interface AttemptReply {
  readonly acquired: boolean;
  /** The holder's PTTL when refused (-1: no expiry). */
  readonly pttl: number;
}

/** The lock driver of a Redlock coordinator. */
export function redlockLocks(
  batches: readonly KeyBatch[],
  feed: ReleaseFeed,
  monitor: LossMonitor,
  driftFactor: number,
): LockDriver {
  const clients = batches.map((batch) => batch.client);
  const quorum = quorumOf(clients.length);

  /** Fails with BackendUnavailableError when too few instances answered. */
  function unlessUnreachable<T>(round: QuorumRound<T>, doing: string): QuorumRound<T> {
    if (round.decision !== 'unreachable') return round;
    const answered = clients.length - round.errors.length - round.pending;
    const cause = new AggregateError(round.errors.map((e) => backendFailure('redlock', doing, e)));
    throw new BackendUnavailableError(
      'redlock',
      `${doing}: ${round.errors.length} of ${clients.length} instances failed (${answered} answered, ${quorum} needed)`,
      { cause },
    );
  }

  function releaseEverywhere(keys: LockKeys, owner: string): Array<Promise<boolean>> {
    // No handoff reservations on Redlock: each instance only ever holds an owner id.
    const args = [owner, keys.channel, '', '0'];
    return clients.map(
      async (client) => Number(await RELEASE.run(client, [keys.lock, keys.lock], args)) === 1,
    );
  }

  function grantFor(keys: LockKeys, owner: string, validUntil: number): LeaseGrant {
    const decide = async (doing: string, replies: Array<Promise<boolean>>): Promise<boolean> => {
      const round = unlessUnreachable(await collectQuorum(replies, quorum, (ok) => ok), doing);
      return round.decision === 'yes';
    };
    return monitoredGrant(
      {
        extend: (ttlMs, urgent) =>
          decide(
            'extend',
            batches.map((batch) => batch.extend(keys.lock, owner, ttlMs, urgent)),
          ),
        release: () => decide('release', releaseEverywhere(keys, owner)),
        isHeld: () =>
          decide(
            'isHeld',
            clients.map(async (client) => (await client.get(keys.lock)) === owner),
          ),
      },
      monitor,
      { key: keys.lock, owner, validUntil },
    );
  }

  return {
    async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
      const keys = cachedLockKeys(request.lock);
      const { ownerId, ttlMs } = request;
      const start = performance.now();
      const replies = clients.map(async (client): Promise<AttemptReply> => {
        const reply = (await ACQUIRE_PLAIN.run(client, [keys.lock], [ownerId, ttlMs])) as [number, number?];
        return { acquired: Number(reply[0]) === 1, pttl: Number(reply[1] ?? -1) };
      });
      const round = await collectQuorum(replies, quorum, (r) => r.acquired);
      const validUntil = start + ttlMs - driftMs(ttlMs, driftFactor);
      if (round.decision === 'yes' && validUntil > performance.now()) {
        return grantFor(keys, ownerId, validUntil);
      }
      // Give back whatever we got, everywhere, now.
      for (const released of releaseEverywhere(keys, ownerId)) released.catch(() => {});
      unlessUnreachable(round, 'acquire');
      const refused = round.no.map((r) => r.pttl);
      feed.holderLeaseEndsIn(
        keys.channel,
        quorumFreeInMs(refused, clients.length, round.errors.length, quorum),
      );
      return null;
    },
    watch: (lock: LockRef) => feed.watch(cachedLockKeys(lock)),
    validateNative: validateNativeKey,
  };
}
