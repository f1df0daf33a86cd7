/**
 * A granted lock (or read or write grant, leadership, permit) as core sees it. Its session (the
 * connection's, for its TTL) keeps it alive: core sends no renewals of its own and learns of a
 * loss from the lock's `lost` flag.
 * @module
 */
import { backendFailure, type LeaseGrant } from '@lockstep/core/driver';
import type { HeldLock } from './session.js';
import type { LockSql } from './sql.js';

/**
 * The {@link LeaseGrant} of `lock`.
 *
 * - `isHeld`, and `renew` (`extend()`): one `pg_locks` check on the holding connection — true
 *   while it lives, still has this grant's lock on record, and the server agrees. When the
 *   server cannot be asked the connection is abandoned (so `lost` trips) and the call throws. A
 *   renewal with another TTL moves the lock to that TTL's session, raising the idle timeout in
 *   the same statement.
 * - `release`: the lock's release statement (`pg_advisory_unlock`, or its kind's) on the
 *   holding connection, only while this grant holds the lock there; a stale grant never touches
 *   a later holder's lock (false, no I/O). Read grants of one coordinator that share one hold
 *   each release once; the last one unlocks.
 */
export function grantFor(lock: HeldLock, fencingToken: bigint, sql: LockSql): LeaseGrant {
  const { connection, placement } = lock;
  let released = false;
  const ours = () => !released && lock.held && connection.lockOn(placement.id) === lock;
  // A connection that lives but cannot answer (or refused an unlock, leaving us unsure what it
  // holds) is abandoned: the server frees everything on it when it closes.
  const abandon = (doing: string, error: unknown) => {
    const mapped = backendFailure('postgres', doing, error);
    connection.die(mapped);
    return mapped;
  };
  const check = async (ttlMs?: number): Promise<boolean> => {
    if (!ours()) return false;
    const setting = ttlMs === undefined ? null : connection.timeoutFor(ttlMs);
    const sentAt = performance.now();
    let held: boolean;
    try {
      held = (await connection.run(sql.held([placement.id], setting))).rows[0].held.length > 0;
      connection.applied(setting);
    } catch (error) {
      if (!ours()) return false;
      throw abandon('checking a lock', error);
    }
    if (!ours()) return false;
    if (!held) connection.forget(lock);
    else if (ttlMs !== undefined) connection.retime(lock, ttlMs, sentAt);
    return held;
  };

  return {
    fencingToken,
    lost: lock.lost,
    session: lock.session,
    renew: (ttlMs) => check(ttlMs),
    isHeld: () => check(),
    release: async () => {
      if (!ours()) return false;
      released = true;
      if (lock.readers > 1) {
        lock.readers--;
        return true;
      }
      // Queued, then forgotten, at once: statements on one connection run in order, so a later
      // local claim of the key reaches the server after this unlock.
      const unlocking = connection.run(connection.releaseOf(lock));
      connection.forget(lock);
      try {
        return (await unlocking).rows[0].released as boolean;
      } catch (error) {
        // A connection that died took the lock with it.
        if (connection.ended) return false;
        throw abandon('releasing a lock', error);
      }
    },
  };
}
