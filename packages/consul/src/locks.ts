/**
 * Acquiring Consul locks. Once the coordinator has a session for the TTL, an acquire is ONE
 * request: a transaction that takes the key with the session (`lock`) and reads it back (`get`),
 * so the same answer carries the key's ModifyIndex — the fencing token.
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
import { BackendUnavailableError, type HolderInfo, type NativeLockLocation } from '@lockstep/core';
import type { AcquireRequest, LockDriver, LockRef, LockWatch, SessionPool } from '@lockstep/core/driver';
import { ConsulGrant, type GrantFacts, type GrantScope, releaseOps } from './grant.js';
import type { KvEntry } from './json.js';
import { lockKey, normaliseNativePrefix } from './keys.js';
import { readKey, type TxnOp, transaction } from './kv.js';
import { assertLockUse, LOCK_FLAG_VALUE } from './native.js';
import { assertSessionTtl, type ConsulSession } from './session.js';
import { sessionFor } from './session-slots.js';

/** What one attempt found: the entry it took, another session holding the key, or a refusal on a free key. */
export type Attempt = { readonly entry: KvEntry; readonly sentAt: number } | 'held' | 'refused-while-free';

/** The lock half of the Consul driver (and, through its hooks, the key an election's leader takes). */
export class ConsulLocks implements LockDriver {
  protected readonly scope: GrantScope;
  readonly #sessions: SessionPool<ConsulSession>;

  constructor(scope: GrantScope, sessions: SessionPool<ConsulSession>) {
    this.scope = scope;
    this.#sessions = sessions;
  }

  tryAcquire({ lock, ttlMs, ownerId }: AcquireRequest): Promise<ConsulGrant | null> {
    assertSessionTtl(ttlMs);
    return this.take(lockKey(lock), lock.native !== undefined, ownerId, ttlMs);
  }

  watch(lock: LockRef): LockWatch {
    return this.scope.watches.watch(lockKey(lock));
  }

  /**
   * Who holds the lock, in one read: the holding session's owner id and the token of its grant
   * (the key's ModifyIndex). Consul keeps no queue of lock waiters, so their number is not told.
   */
  async inspect(lock: LockRef): Promise<{ readonly holders: readonly HolderInfo[] }> {
    const entry = await readKey(this.scope.http, lockKey(lock), 'inspecting a lock');
    if (entry === undefined || entry.session === '') return { holders: [] };
    const owner = entry.value.toString('utf8');
    return { holders: [{ ...(owner === '' ? {} : { owner }), fencingToken: entry.modifyIndex }] };
  }

  validateNative(native: NativeLockLocation): void {
    normaliseNativePrefix(native);
  }

  /** Takes `key` with this coordinator's session for `ttlMs`, writing `value`; `null` when held. */
  protected async take(
    key: string,
    native: boolean,
    value: string,
    ttlMs: number,
  ): Promise<ConsulGrant | null> {
    // A second round only when our session turned out to be dead (it is replaced first).
    for (let round = 0; round < 2; round++) {
      const session = this.#sessions.current(ttlMs) ?? (await sessionFor(this.#sessions, ttlMs));
      const claim = session.claim(key);
      // Another handle of this coordinator holds it (or is acquiring it) with this session.
      if (claim === undefined) return null;
      let grant: ConsulGrant | undefined;
      try {
        const attempt = await this.attempt(session, key, value, native);
        if (attempt === 'held') return null;
        if (attempt === 'refused-while-free') {
          if (await session.existsOnServer()) return null; // a lock-delay is running: wait it out
          session.markLost('Consul no longer knows it (an acquire with it was refused)');
          continue;
        }
        const token = attempt.entry.modifyIndex;
        if (session.live && performance.now() < session.certainUntil) {
          const validUntil = attempt.sentAt + ttlMs;
          grant = this.grant({ session, key, claim, token, native, validUntil }, attempt.entry);
          return grant;
        }
        // Granted to a session we have meanwhile given up on: nobody could release or trust this
        // lock, so hand it back (best effort) and try again on a new one.
        void transaction(this.scope.http, releaseOps(key, session.id, token), 'handing back a lock').catch(
          () => {},
        );
      } finally {
        if (!grant) session.unclaim(key, claim);
      }
    }
    return null;
  }

  /** One attempt at `key`: one request, two at a native location. */
  protected attempt(session: ConsulSession, key: string, value: string, native: boolean): Promise<Attempt> {
    return native ? this.#attemptNative(session, key, value) : this.#attempt(session, key, value);
  }

  /** The grant an attempt won (`facts.token` is the acquiring write's ModifyIndex, `entry` what it wrote). */
  protected grant(facts: GrantFacts, _entry: KvEntry): ConsulGrant {
    return new ConsulGrant(this.scope, facts);
  }

  /** One request: `[lock, get]`. */
  async #attempt(session: ConsulSession, key: string, ownerId: string): Promise<Attempt> {
    const sentAt = performance.now();
    const outcome = await transaction(this.scope.http, lockOps(session, key, ownerId), 'acquiring a lock');
    if (outcome.committed) return taken(session, outcome.entries, sentAt);
    return this.diagnose(session, await readKey(this.scope.http, key, 'reading a lock'));
  }

  /** Two requests: read (flags and holder), then `[check, lock, get]`. */
  async #attemptNative(session: ConsulSession, key: string, ownerId: string): Promise<Attempt> {
    const { http } = this.scope;
    const current = await readKey(http, key, 'reading a lock');
    assertLockUse(current);
    if (current && current.session !== '' && current.session !== session.id)
      return this.diagnose(session, current);
    const unchanged: TxnOp = current
      ? { verb: 'check-index', key, index: current.modifyIndex }
      : { verb: 'check-not-exists', key };
    const sentAt = performance.now();
    const outcome = await transaction(http, lockOps(session, key, ownerId, unchanged), 'acquiring a lock');
    if (outcome.committed) return taken(session, outcome.entries, sentAt);
    const now = await readKey(http, key, 'reading a lock');
    assertLockUse(now);
    return this.diagnose(session, now);
  }

  /** What a refused attempt means, from a read of the key after it. */
  protected diagnose(session: ConsulSession, entry: KvEntry | undefined): Attempt {
    if (entry === undefined || entry.session === '' || entry.session === session.id)
      return 'refused-while-free';
    // A waiter's blocking query can start from this read instead of reading again.
    this.scope.watches.sawHeld(entry.key, entry.modifyIndex);
    return 'held';
  }
}

/**
 * The owner id is written as the value, so every grant is a real modification with its own
 * ModifyIndex even when our session re-acquires a key it still holds (Consul keeps the index of a
 * write that changes nothing). A native key also gets api/lock.go's flag.
 */
function lockOps(session: ConsulSession, key: string, ownerId: string, unchanged?: TxnOp): TxnOp[] {
  const flags = unchanged ? LOCK_FLAG_VALUE : undefined;
  const take: TxnOp[] = [
    { verb: 'lock', key, value: ownerId, session: session.id, flags },
    { verb: 'get', key },
  ];
  return unchanged ? [unchanged, ...take] : take;
}

export function taken(session: ConsulSession, entries: readonly KvEntry[], sentAt: number): Attempt {
  const entry = entries[entries.length - 1];
  if (entry?.session !== session.id) {
    throw new BackendUnavailableError(
      'consul',
      'acquiring a lock: the transaction committed without our session',
    );
  }
  return { entry, sentAt };
}
