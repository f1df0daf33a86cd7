/**
 * A held Consul lock: what core's handle releases and asks about. Its session renews it.
 *
 * Release is a transaction `[check-session S, check-index T, delete]` (native keys: `unlock` instead
 * of `delete`, as api/lock.go's Unlock). It never frees someone else's lock, by construction:
 * - another session's lock fails `check-session` (only the holding session can release in Consul);
 * - a later grant of our own session — Consul lets a session re-acquire what it holds — has another
 *   ModifyIndex (each grant writes a fresh owner id), so it fails `check-index T`, T being this
 *   grant's fencing token; and our local claims keep two grants of one session from coexisting.
 *
 * Loss: the session ended (see the session module), the session's periodic check found the key
 * gone or held by another session, or `isHeld` found the same. Then `lost` trips, once.
 * @module
 */
import type { LeaseGrant } from '@lockstep/core';
import { LossFlag, type Sweeper } from '@lockstep/core/driver';
import type { ConsulHttp } from './http.js';
import { readKey, type TxnOp, transaction } from './kv.js';
import { LOCK_FLAG_VALUE } from './native.js';
import type { ConsulSession, SessionLock } from './session.js';
import type { ReleaseWatches } from './watch.js';

/** What every grant of one coordinator shares. */
export interface GrantScope {
  readonly http: ConsulHttp;
  readonly watches: ReleaseWatches;
  /** Retries releases whose outcome is unknown. */
  readonly sweeper: Sweeper;
}

/** One grant's facts. */
export interface GrantFacts {
  readonly session: ConsulSession;
  readonly key: string;
  readonly claim: symbol;
  /** The key's ModifyIndex written by the acquiring transaction: the fencing token. */
  readonly token: bigint;
  /** A native (`consul lock`) key: released with `unlock`, keeping the key, as api/lock.go does. */
  readonly native: boolean;
  /** `performance.now()` + TTL of the acquiring transaction: when a pure lease ends. */
  readonly validUntil: number;
}

/** See the module comment. */
export class ConsulGrant implements LeaseGrant, SessionLock {
  readonly fencingToken: bigint;
  readonly lost = new LossFlag();
  readonly key: string;
  readonly session: ConsulSession;
  readonly validUntil: number;
  readonly #scope: GrantScope;
  readonly #claim: symbol;
  readonly #native: boolean;
  /** Released or lost: nothing more to do on the server. */
  #settled = false;

  constructor(scope: GrantScope, facts: GrantFacts) {
    this.#scope = scope;
    this.session = facts.session;
    this.key = facts.key;
    this.#claim = facts.claim;
    this.#native = facts.native;
    this.fencingToken = facts.token;
    this.validUntil = facts.validUntil;
    this.session.hold(this);
  }

  /** Per-session lease: the session keeps it alive, so this only checks the lock is still ours. */
  renew(_ttlMs: number): Promise<boolean> {
    return this.isHeld();
  }

  async isHeld(): Promise<boolean> {
    if (this.#settled) return false;
    const entry = await readKey(this.#scope.http, this.key, 'checking a lock');
    const held = entry?.session === this.session.id && this.session.owns(this.key, this.#claim);
    if (!held) this.#lose(new Error(`the key ${this.key} is no longer held by our session`));
    return held && !this.#settled;
  }

  async release(): Promise<boolean> {
    if (this.#settled) return false;
    this.#settle();
    const { session, key } = this;
    try {
      if (!session.owns(key, this.#claim)) return false;
      return await this.#releaseOnServer();
    } catch (error) {
      this.#scope.sweeper.add({
        // Always guarded by this grant's own index, so a retry can never free a later grant.
        attempt: async () => {
          if (session.live)
            await transaction(this.#scope.http, this.#ops(this.fencingToken), 'releasing a lock');
          return 'done';
        },
      });
      throw error;
    } finally {
      session.unclaim(key, this.#claim);
      this.#scope.watches.notify(key);
    }
  }

  sessionLost(reason: Error): void {
    this.#lose(reason);
  }

  /** One request when nothing unusual happened; two more if a third party rewrote our key. */
  async #releaseOnServer(): Promise<boolean> {
    const { http } = this.#scope;
    const outcome = await transaction(http, this.#ops(this.fencingToken), 'releasing a lock');
    if (outcome.committed) return true;
    // A plain PUT by someone else keeps the holder but moves ModifyIndex. The key is still ours if
    // our session holds it: our claim on it means no later grant of this session exists.
    const entry = await readKey(http, this.key, 'releasing a lock');
    if (entry?.session !== this.session.id || entry.modifyIndex === this.fencingToken) return false;
    return (await transaction(http, this.#ops(entry.modifyIndex), 'releasing a lock')).committed;
  }

  #ops(index: bigint): TxnOp[] {
    return releaseOps(this.key, this.session.id, index, this.#native);
  }

  #settle(): void {
    this.#settled = true;
    this.session.drop(this);
  }

  #lose(reason: Error): void {
    if (this.#settled) return;
    this.#settle();
    this.session.unclaim(this.key, this.#claim);
    this.lost.abort(reason);
  }
}

/** `[check-session, check-index, delete]`; a native key is unlocked instead, and kept. */
export function releaseOps(key: string, session: string, index: bigint, native = false): TxnOp[] {
  return [
    { verb: 'check-session', key, session },
    { verb: 'check-index', key, index },
    native ? { verb: 'unlock', key, session, flags: LOCK_FLAG_VALUE } : { verb: 'delete', key },
  ];
}
