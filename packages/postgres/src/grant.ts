/**
 * A granted lock as core sees it. Its session (the connection's, for its TTL) keeps it alive:
 * core sends no renewals of its own, and learns of a loss from the lock's `lost` flag.
 * @module
 */
import { backendFailure, type LeaseGrant } from '@lockstep/core/driver';
import type { HeldLock } from './session.js';
import type { LockSql } from './sql.js';

/**
 * The {@link LeaseGrant} of `lock`.
 *
 * - `isHeld`, and `renew` (which `extend()` calls): one `pg_locks` check on the holding
 *   connection. True while the connection is alive, still has the lock on record for this
 *   grant, and the server agrees. Throws (BackendUnavailableError) when the server cannot be
 *   asked — the connection is then abandoned, so `lost` trips. A renewal with another TTL moves
 *   the lock to that TTL's session and raises the idle timeout in the same statement.
 * - `release`: `pg_advisory_unlock` on the holding connection, only if this grant still holds
 *   the lock there; a stale grant never touches a later holder's lock (false, no I/O).
 */
export function grantFor(lock: HeldLock, fencingToken: bigint, sql: LockSql): LeaseGrant {
  const { connection, placement } = lock;
  const ours = () => lock.held && connection.lockOn(placement.id) === lock;
  // A connection that lives but cannot answer is abandoned rather than trusted with a lock the
  // handle may soon give up on (the server frees it when the connection closes).
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
      const row = (await connection.run(sql.held([placement.pgLocks], setting))).rows[0];
      connection.checkPid(row.pid);
      connection.applied(setting);
      held = row.held.length > 0;
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
      // Queued, then forgotten, in one go: statements on one connection run in order, so a
      // later local claim of the same key can only reach the server after this unlock.
      const unlocking = connection.run(sql.unlock(placement.advisory));
      connection.forget(lock);
      try {
        const row = (await unlocking).rows[0] as { released: boolean; pid: number };
        connection.checkPid(row.pid);
        return row.released;
      } catch (error) {
        // A connection that died took the lock with it (the server frees it on disconnect).
        if (connection.ended) return false;
        // The server refused the unlock: we cannot know what it still holds for us, and a lock
        // left on a connection we keep using would be stacked by the next local acquire.
        // Abandoning the connection frees everything it held.
        throw abandon('releasing a lock', error);
      }
    },
  };
}
