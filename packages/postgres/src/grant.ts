/**
 * A granted lock as core sees it: health check, release, loss signal — all on the session
 * that holds the lock.
 * @module
 */
import type { LeaseGrant } from '@lockstep/core';
import { toLockstepError } from './errors.js';
import type { LockSession, SessionLock } from './session.js';
import type { LockSql } from './sql.js';

/** What a grant needs besides its session. */
export interface GrantContext {
  readonly sql: LockSql;
  /** Called after a release leaves `session` holding nothing. */
  readonly onEmpty: (session: LockSession) => void;
}

/**
 * Builds the {@link LeaseGrant} of `lock`, held on `session`.
 *
 * - `renew`/`isHeld`: the per-session health check. True while the session is alive, still
 *   has the lock on record for this owner, and `pg_locks` shows the server agrees. False when
 *   the lock is gone. Throws (BackendUnavailableError) when the server cannot be asked — and if
 *   the session does not answer within the command timeout it is abandoned, so `lost` aborts.
 * - `release`: `pg_advisory_unlock` on the holding session, only if this grant still holds the
 *   lock there; a stale grant never touches a later holder's lock (false, no I/O).
 */
export function grantFor(
  session: LockSession,
  lock: SessionLock,
  fencingToken: bigint,
  validUntil: number,
  context: GrantContext,
): LeaseGrant {
  const { placement } = lock;
  const { pgLocks } = placement;
  const ours = () => !session.dead && session.lockOn(placement.id) === lock && lock.state === 'held';

  lock.validUntil = validUntil;
  const check = async (): Promise<boolean> => {
    if (!ours()) return false;
    let held: boolean;
    try {
      held = await session.holds(pgLocks);
    } catch (error) {
      if (!ours()) return false;
      // The session lives but cannot answer: abandon it rather than keep a lock the handle may
      // soon give up on (the server frees it when the connection closes).
      const mapped = toLockstepError(error, 'checking a lock');
      session.die(mapped);
      throw mapped;
    }
    return ours() && held;
  };

  return {
    fencingToken,
    lost: lock.lost.signal,
    validUntil,
    renew: async (ttlMs) => {
      // A longer TTL also raises the session's idle timeout, in the same health check.
      if (ours()) lock.ttlMs = ttlMs;
      const sentAt = performance.now();
      const held = await check();
      // Core now trusts the lease until sentAt + ttl — unless the check was sent after the lease
      // had already ended, which core does not count either.
      if (held && sentAt <= lock.validUntil) lock.validUntil = Math.max(lock.validUntil, sentAt + ttlMs);
      return held;
    },
    isHeld: check,
    release: async () => {
      if (!ours()) return false;
      // Forgotten before the unlock is sent. Statements on one connection run in order: a later
      // local claim of the same key can only reach the server after this unlock.
      session.forget(lock);
      try {
        const result = await session.run(context.sql.unlock(placement.advisory));
        const row = result.rows[0] as { released: boolean; pid: number };
        session.checkPid(row.pid);
        return row.released;
      } catch (error) {
        // A session that died took the lock with it (the server frees it on disconnect).
        if (session.dead) return false;
        // The server refused the unlock: we cannot know what it still holds for us, and a lock
        // left on a session we keep using would be stacked by the next local acquire. Abandon
        // the session, which frees everything it held.
        const mapped = toLockstepError(error, 'releasing a lock');
        session.die(mapped);
        throw mapped;
      } finally {
        if (session.size === 0) context.onEmpty(session);
      }
    },
  };
}
