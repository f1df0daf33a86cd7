/**
 * Acquiring Consul locks. Uncontended, an acquire is ONE request: a transaction that takes the key
 * with the coordinator's session (`lock`) and reads it back (`get`), so the same answer carries the
 * key's ModifyIndex — the fencing token. (After a session exists: the first acquire per TTL also
 * creates the session.)
 *
 * A refused transaction is diagnosed with a read: held by another session → `null` (waiters then
 * sleep on the key's blocking query); free but refused → a lock-delay is running, or our session is
 * gone (then it is replaced and the attempt repeated once).
 *
 * Native locations (`consul lock` prefixes) read first, as api/lock.go does, because the key's flags
 * must be checked before taking it: `[check-index | check-not-exists, lock, get]` then takes it only
 * if it did not change since that read. Two requests.
 * @module
 */
import {
  type AcquireRequest,
  BackendUnavailableError,
  InvalidArgumentError,
  type LeaseGrant,
  type LockDriver,
  type LockRef,
  type LockWatch,
  type NativeLockLocation,
} from '@lockstep/core';
import { ConsulGrant } from './grant.js';
import type { ConsulHttp } from './http.js';
import type { KvEntry } from './json.js';
import { lockKey, normaliseNativePrefix } from './keys.js';
import { readKey, type TxnOp, transaction } from './kv.js';
import { assertLockUse, LOCK_FLAG_VALUE } from './native.js';
import { SESSION_TTL_MAX_MS } from './options.js';
import type { ConsulSession } from './session.js';
import type { SessionPool } from './sessions.js';
import type { ReleaseWatches } from './watch.js';

/** What one attempt found. */
type Attempt =
  | { readonly kind: 'granted'; readonly entry: KvEntry }
  | { readonly kind: 'held' }
  /** Refused although no session holds the key: lock-delay, or our session is unknown. */
  | { readonly kind: 'refused-while-free' };

/** The lock half of the Consul driver. */
export class ConsulLocks implements LockDriver {
  readonly #http: ConsulHttp;
  readonly #sessions: SessionPool;
  readonly #watches: ReleaseWatches;

  constructor(http: ConsulHttp, sessions: SessionPool, watches: ReleaseWatches) {
    this.#http = http;
    this.#sessions = sessions;
    this.#watches = watches;
  }

  async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    if (request.ttlMs > SESSION_TTL_MAX_MS) {
      throw new InvalidArgumentError(
        'ttlMs',
        `Consul session TTLs are at most ${SESSION_TTL_MAX_MS} ms (86400 s)`,
      );
    }
    const key = lockKey(request.lock);
    const native = request.lock.native !== undefined;
    // A second round only when our session turned out to be dead (it is replaced first).
    for (let round = 0; round < 2; round++) {
      const session = await this.#sessions.session(request.ttlMs);
      session.beginAttempt();
      const claim = session.claim(key);
      try {
        // Another handle of this coordinator holds it (or is acquiring it) with this session.
        if (claim === undefined) return null;
        const attempt = native
          ? await this.#attemptNative(session, key, request.ownerId)
          : await this.#attempt(session, key, request.ownerId);
        if (attempt.kind === 'granted' && !session.alive) {
          // Granted to a session we have meanwhile given up on (its renewals failed past the TTL):
          // nobody could release or trust this lock, so hand it back and try again on a new one.
          session.unclaim(key, claim);
          void this.#giveBack(session, key, attempt.entry.modifyIndex);
          continue;
        }
        if (attempt.kind === 'granted') {
          const grant = new ConsulGrant({
            http: this.#http,
            session,
            key,
            claim,
            token: attempt.entry.modifyIndex,
            native,
            watches: this.#watches,
          });
          return grant;
        }
        session.unclaim(key, claim);
        if (attempt.kind === 'held') return null;
        if (await session.existsOnServer()) return null; // a lock-delay is running: wait it out
        session.markLost('gone');
      } catch (error) {
        if (claim !== undefined) session.unclaim(key, claim);
        throw error;
      } finally {
        session.endAttempt();
      }
    }
    return null;
  }

  /** Best effort: deletes a key our session took, unless it changed since (then it is not ours). */
  async #giveBack(session: ConsulSession, key: string, index: bigint): Promise<void> {
    await transaction(
      this.#http,
      [
        { verb: 'check-session', key, session: session.id },
        { verb: 'check-index', key, index },
        { verb: 'delete', key },
      ],
      'handing back a lock',
    ).catch(() => {});
  }

  watch(lock: LockRef): LockWatch {
    return this.#watches.watch(lockKey(lock));
  }

  validateNative(native: NativeLockLocation): void {
    normaliseNativePrefix(native);
  }

  /** One request: `[lock, get]`. */
  async #attempt(session: ConsulSession, key: string, ownerId: string): Promise<Attempt> {
    const outcome = await transaction(
      this.#http,
      this.#lockOps(session, key, ownerId, []),
      'acquiring a lock',
    );
    if (outcome.committed) return this.#granted(session, outcome.entries);
    return this.#diagnose(session, await readKey(this.#http, key, 'reading a lock'));
  }

  /** Two requests: read (flags and holder), then `[check, lock, get]`. */
  async #attemptNative(session: ConsulSession, key: string, ownerId: string): Promise<Attempt> {
    const current = await readKey(this.#http, key, 'reading a lock');
    assertLockUse(current);
    if (current && current.session !== '' && current.session !== session.id)
      return this.#diagnose(session, current);
    const unchanged: TxnOp = current
      ? { verb: 'check-index', key, index: current.modifyIndex }
      : { verb: 'check-not-exists', key };
    const outcome = await transaction(
      this.#http,
      this.#lockOps(session, key, ownerId, [unchanged], LOCK_FLAG_VALUE),
      'acquiring a lock',
    );
    if (outcome.committed) return this.#granted(session, outcome.entries);
    const now = await readKey(this.#http, key, 'reading a lock');
    assertLockUse(now);
    return this.#diagnose(session, now);
  }

  /**
   * The owner id is written as the value, so every grant is a real modification with its own
   * ModifyIndex even when our session re-acquires a key it still holds (Consul keeps the index of a
   * write that changes nothing).
   */
  #lockOps(session: ConsulSession, key: string, ownerId: string, checks: TxnOp[], flags?: bigint): TxnOp[] {
    return [
      ...checks,
      { verb: 'lock', key, value: ownerId, session: session.id, flags },
      { verb: 'get', key },
    ];
  }

  #granted(session: ConsulSession, entries: readonly KvEntry[]): Attempt {
    const entry = entries[entries.length - 1];
    if (entry === undefined || entry.session !== session.id) {
      throw new BackendUnavailableError(
        'consul',
        'acquiring a lock: the transaction committed but its `get` did not show our session',
      );
    }
    return { kind: 'granted', entry };
  }

  #diagnose(session: ConsulSession, entry: KvEntry | undefined): Attempt {
    if (entry !== undefined && entry.session !== '' && entry.session !== session.id) {
      // A waiter's blocking query can start from this read instead of reading again.
      this.#watches.sawHeld(entry.key, entry.modifyIndex);
      return { kind: 'held' };
    }
    return { kind: 'refused-while-free' };
  }
}
