/**
 * An etcd lease as core's `Session`: every key lockstep writes hangs on one (etcd's
 * `concurrency.Session`), and the session is what keeps them, however many there are.
 *
 * Round trips, per lease rather than per lock:
 * - grant: ONE `LeaseGrant` when a coordinator first uses a TTL (shared by every acquire meanwhile).
 * - keep-alive: ONE keep-alive message every TTL/3, answered with the TTL the lease was reset to
 *   (0 when it is gone).
 * - check: after each confirmed keep-alive, ONE `LeaseTimeToLive` with `keys: true` lists every key
 *   still on the lease, so a lock whose key someone deleted is noticed within a period without a
 *   read per lock. A key missing from the list is read once more before its lock is declared lost:
 *   a lease's key list and the key space are not promised to be read at the same instant.
 * - revoke: ONE `LeaseRevoke` when the session is retired or the coordinator closes; it deletes
 *   every key still on the lease.
 * @module
 */
import { Session, type SessionMember } from '@lockstep/core/driver';
import { stillThere } from './queue.js';
import type { EtcdRpc } from './rpc.js';

/** A key on a lease (a held lock, or a contender in a queue), told when the lease loses it. */
export interface LeaseKey extends SessionMember {
  /** The key as the RPC layer names it (without the client's namespace). */
  readonly key: string;
  /** Its create revision. */
  readonly token: bigint;
  /** `performance.now()` when the write that put it on this lease was answered. */
  readonly writtenAt: number;
}

/** Most reads in the transaction that confirms missing keys (etcd's default limit is 128). */
const CONFIRM_BATCH = 64;

/** Grants a lease of `ttlMs` (whole seconds): one round trip. */
export async function grantLease(rpc: EtcdRpc, ttlMs: number): Promise<EtcdSession> {
  const sentAt = performance.now();
  return new EtcdSession(rpc, await rpc.grant(ttlMs / 1000), ttlMs, sentAt);
}

/** One lease and the keys on it. */
export class EtcdSession extends Session<LeaseKey> {
  /** The lease id in decimal, as request fields take it. */
  readonly idText: string;
  /** The lease id in hex, as key names write it. */
  readonly idHex: string;
  /** Per queue, the slots in use by this lease's keys (see {@link claimSlot}). */
  readonly #slots = new Map<string, Set<number>>();

  constructor(rpc: EtcdRpc, id: bigint, ttlMs: number, grantedAt: number) {
    const idText = id.toString();
    super(
      {
        keepAlive: async (timeoutMs) => (await rpc.keepAlive(idText, timeoutMs)) > 0,
        verify: (keys) => missingKeys(rpc, idText, keys),
        end: () => rpc.revoke(id),
      },
      {
        ttlMs,
        confirmedAt: grantedAt,
        keepAliveTimeoutMs: Math.min(rpc.timeoutMs, ttlMs / 3),
        describe: `etcd lease ${id.toString(16)}`,
      },
    );
    this.idText = idText;
    this.idHex = id.toString(16);
  }

  /**
   * The smallest slot not in use in `queue`: lockstep's contender keys are named by lease and
   * slot, so two acquires of one lock through this lease get different keys, and a name is used
   * again once its previous key is gone. (etcd keeps every deleted key in its index until the
   * next compaction, and a queue read visits them all: a fresh name per acquire would make each
   * acquire slower than the last.) Native keys are named by the lease alone: slot 0 only.
   */
  claimSlot(queue: string): number {
    let used = this.#slots.get(queue);
    if (!used) {
      used = new Set();
      this.#slots.set(queue, used);
    }
    let slot = 0;
    while (used.has(slot)) slot++;
    used.add(slot);
    return slot;
  }

  /** Whether slot 0 of `queue` is free (a native key of this lease may go there). */
  slotFree(queue: string): boolean {
    return !this.#slots.get(queue)?.has(0);
  }

  /** Frees a slot once the key named by it is certainly gone. */
  releaseSlot(queue: string, slot: number): void {
    const used = this.#slots.get(queue);
    if (!used) return;
    used.delete(slot);
    if (used.size === 0) this.#slots.delete(queue);
  }
}

/**
 * Which of `keys` are no longer on lease `id`: the lease's key list, then one linearizable read
 * of the keys it lacks. Keys written after the list was asked for are not judged by it.
 */
async function missingKeys(rpc: EtcdRpc, id: string, keys: ReadonlySet<LeaseKey>): Promise<LeaseKey[]> {
  const askedAt = performance.now();
  const res = await rpc.timeToLive(id);
  if (Number(res.TTL) <= 0) return []; // the lease itself is gone: the keep-alive says so
  const listed = new Set(res.keys.map((key) => rpc.unprefixed(key)));
  const suspects = [...keys].filter((k) => k.writtenAt < askedAt && !listed.has(k.key));
  const missing: LeaseKey[] = [];
  for (let at = 0; at < suspects.length; at += CONFIRM_BATCH) {
    const batch = suspects.slice(at, at + CONFIRM_BATCH);
    for (const [i, there] of (await stillThere(rpc, batch)).entries()) if (!there) missing.push(batch[i]!);
  }
  return missing;
}
