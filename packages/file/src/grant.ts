/**
 * A granted lock, permit, read-write grant or leadership: renew, release, proclaim and ownership
 * checks, each one critical section that changes the record only while we are still one of its
 * holders.
 *
 * A holder of this process whose lease ended is told the moment a section of this process gives
 * its place to another, before that grant is handed out: its own expiry timer may not have run
 * yet (a stalled event loop runs every due timer at once, a waiter's re-check perhaps first), and
 * no handle here may say "held" while another handle here holds its place.
 * @module
 */
import { LockLostError } from '@lockstep/core';
import { type LeadershipGrant, type LeaseGrant, LossFlag } from '@lockstep/core/driver';
import { monotonicNowMs, PID_NAMESPACE } from './clock.js';
import { withFileLock } from './flock.js';
import { type Holder, holderOf, holds, type LeaseRecord, withHolders } from './queue.js';
import { readRecord, writeRecord } from './record.js';

/** Where a grant lives and what it carries. */
export interface GrantedLease {
  readonly path: string;
  readonly owner: string;
  readonly fencingToken: bigint;
  /** `performance.now()` read before the deadline was computed: the lease is ours until then. */
  readonly validUntil: number;
}

/** The loss notices of this process's grants that may still be in a record, by owner id. */
const heldHere = new Map<string, LossFlag>();

/**
 * The lease of `lease`. `afterRelease` runs after a release that gave the lock or permit back,
 * so a waiter of this process can take it without waiting for the file-change notification.
 */
export function leaseGrant(lease: GrantedLease, afterRelease: () => void): LeaseGrant {
  const { path, owner } = lease;
  const lost = new LossFlag();
  heldHere.set(owner, lost);
  return {
    fencingToken: lease.fencingToken,
    validUntil: lease.validUntil,
    lost,
    renew: async (ttlMs) => {
      const renewed = await rewriteHolder(path, owner, (holder, now) => ({
        ...holder,
        deadline: now + ttlMs,
      }));
      if (!renewed) heldHere.delete(owner);
      return renewed;
    },
    release: async () => {
      heldHere.delete(owner);
      // The token stays in the record, so the next grant gets a larger one.
      const released = await asHolder(path, owner, (record, holders, index) =>
        withHolders(
          record,
          holders.filter((_, i) => i !== index),
        ),
      );
      if (released) afterRelease();
      return released;
    },
    isHeld: () =>
      withFileLock(
        path,
        (fd) => (holderOf(readRecord<LeaseRecord>(fd), owner)?.deadline ?? 0) > monotonicNowMs(),
      ),
  };
}

/** The lease of a leadership: `grant`, whose token is the term, and a proclaim guarded by it. */
export function leadershipGrant(grant: LeaseGrant, path: string, owner: string): LeadershipGrant {
  return {
    ...grant,
    fencingToken: grant.fencingToken!,
    proclaim: (value) => rewriteHolder(path, owner, (holder) => ({ ...holder, value })),
  };
}

/**
 * Replaces our holder entry by `rewrite(entry, now)` inside a section, only while it still holds:
 * `false` when it is gone (another took its place) or its lease ended. A lease that ended is
 * over even while nobody has taken its place yet: renewing it would bring back a lock that
 * observers, `inspect` and `leader()` already report free, and a proclaim would name a leader
 * that no longer leads.
 */
function rewriteHolder(
  path: string,
  owner: string,
  rewrite: (holder: Holder, now: number) => Holder,
): Promise<boolean> {
  return asHolder(path, owner, (record, holders, index) => {
    const now = monotonicNowMs();
    if (!holds(holders[index]!, now)) return undefined;
    const next = holders.slice();
    next[index] = rewrite(holders[index]!, now);
    return withHolders(record, next);
  });
}

/**
 * Writes `change(record, holders, index)` inside a section where `owner` is the holder at
 * `index`; `false` when it is not a holder there, or `change` gives `undefined` (nothing written).
 */
function asHolder(
  path: string,
  owner: string,
  change: (record: LeaseRecord, holders: readonly Holder[], index: number) => LeaseRecord | undefined,
): Promise<boolean> {
  return withFileLock(path, (fd) => {
    const record = readRecord<LeaseRecord>(fd);
    const holders = record?.holders ?? [];
    const index = holders.findIndex((holder) => holder.owner === owner);
    const next = index < 0 ? undefined : change(record!, holders, index);
    if (next === undefined) return false;
    writeRecord(fd, next);
    return true;
  });
}

/**
 * Tells this process's holders in `record` that are missing from `kept` (the holders a grant just
 * written kept) that their lease ended. Call it after the write and before the grant is handed
 * out. A holder of this process is only ever dropped for its lease: its pid lives.
 */
export function tellDropped(record: LeaseRecord | undefined, kept: readonly Holder[]): void {
  // Nobody dropped: `liveHolders` gives back the record's own list (the common case).
  if (record?.holders === undefined || kept === record.holders) return;
  for (const holder of record.holders) {
    if (holder.pid !== process.pid || holder.pidns !== PID_NAMESPACE || kept.includes(holder)) continue;
    const lost = heldHere.get(holder.owner);
    if (lost === undefined) continue;
    heldHere.delete(holder.owner);
    lost.abort(new LockLostError(record.name, 'expired'));
  }
}
