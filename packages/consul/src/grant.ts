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
import type { LeaseGrant } from '@lockstep/core/driver';
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
  /** What the claim is on, when not `key` (a semaphore's prefix: one permit per session). */
  readonly claimKey?: string;
  /** ModifyIndex of `key` as the grant left it, when it is not the token (a queued contender's). */
  readonly keyIndex?: bigint;
}

/** See the module comment. */
export class ConsulGrant implements LeaseGrant, SessionLock {
  readonly fencingToken: bigint;
  readonly lost = new LossFlag();
  readonly key: string;
  readonly session: ConsulSession;
  readonly validUntil: number;
  protected readonly scope: GrantScope;
  readonly #claim: symbol;
  readonly #claimKey: string;
  /** The ModifyIndex that guards every release: a later grant on this session has another. */
  #keyIndex: bigint;
  readonly #native: boolean;
  /** Released or lost: nothing more to do on the server. */
  #settled = false;

  constructor(scope: GrantScope, facts: GrantFacts) {
    this.scope = scope;
    this.session = facts.session;
    this.key = facts.key;
    this.#claim = facts.claim;
    this.#claimKey = facts.claimKey ?? facts.key;
    this.#native = facts.native;
    this.fencingToken = facts.token;
    this.#keyIndex = facts.keyIndex ?? facts.token;
    this.validUntil = facts.validUntil;
    this.session.hold(this);
  }

  /** Per-session lease: the session keeps it alive, so this only checks the lock is still ours. */
  renew(_ttlMs: number): Promise<boolean> {
    return this.isHeld();
  }

  async isHeld(): Promise<boolean> {
    if (this.#settled) return false;
    const held = (await this.heldOnServer()) && this.session.owns(this.#claimKey, this.#claim);
    if (!held) this.#lose(new Error(`the key ${this.key} is no longer held by our session`));
    return held && !this.#settled;
  }

  async release(): Promise<boolean> {
    if (this.#settled) return false;
    this.#settle();
    const { session, key } = this;
    try {
      if (!session.owns(this.#claimKey, this.#claim)) return false;
      return await this.#releaseOnServer();
    } catch (error) {
      // Always guarded by this grant's own index, so a retry can never free a later grant.
      retryInBackground(this.scope, session, this.releaseOps(this.#keyIndex, false), 'releasing a lock');
      throw error;
    } finally {
      session.unclaim(this.#claimKey, this.#claim);
      this.scope.watches.notify(key);
    }
  }

  sessionLost(reason: Error): void {
    this.#lose(reason);
  }

  /**
   * What Consul holds for this grant, read in one request: whether our session still holds `key`.
   * (A permit also asks whether its semaphore still counts it.)
   */
  protected async heldOnServer(): Promise<boolean> {
    const entry = await readKey(this.scope.http, this.key, 'checking a lock');
    return entry?.session === this.session.id;
  }

  /**
   * The release transaction guarded by `index` (the ModifyIndex of `key` this grant expects).
   * `tidy`: the first attempt may add operations beyond the release itself (a permit hands itself
   * to a waiter, or deletes an idle semaphore's `.lock`); when only those fail, the release is sent
   * again without them.
   */
  protected releaseOps(index: bigint, _tidy: boolean): TxnOp[] {
    return releaseOps(this.key, this.session.id, index, this.#native);
  }

  /** One request when nothing unusual happened; two more if a third party rewrote our key. */
  async #releaseOnServer(): Promise<boolean> {
    const { http } = this.scope;
    const outcome = await transaction(http, this.releaseOps(this.#keyIndex, true), 'releasing a lock');
    if (outcome.committed) return true;
    const guarded = this.releaseOps(this.#keyIndex, false);
    const tidyOnly = outcome.errors.length > 0 && outcome.errors.every((e) => e.opIndex >= guarded.length);
    if (tidyOnly) {
      return (await transaction(http, guarded, 'releasing a lock')).committed;
    }
    // A plain PUT by someone else keeps the holder but moves ModifyIndex. The key is still ours if
    // our session holds it: our claim on it means no later grant of this session exists.
    const entry = await readKey(http, this.key, 'releasing a lock');
    if (entry?.session !== this.session.id || entry.modifyIndex === this.#keyIndex) return false;
    return (await transaction(http, this.releaseOps(entry.modifyIndex, false), 'releasing a lock')).committed;
  }

  /** This grant itself wrote `key` again (a proclaimed value): its release is guarded by `index` now. */
  protected rewrote(index: bigint): void {
    if (index > this.#keyIndex) this.#keyIndex = index;
  }

  /** The ModifyIndex of `key` this grant expects. */
  protected get keyIndex(): bigint {
    return this.#keyIndex;
  }

  /** Runs once when the grant is released or lost (after which it sends nothing on its own). */
  protected settled(): void {}

  #settle(): void {
    this.#settled = true;
    this.session.drop(this);
    this.settled();
  }

  #lose(reason: Error): void {
    if (this.#settled) return;
    this.#settle();
    this.session.unclaim(this.#claimKey, this.#claim);
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

/**
 * Hands a guarded delete whose outcome is unknown (the request failed in transit) to the sweeper,
 * which sends it again until it is answered or the session ends (its keys then go with it).
 */
export function retryInBackground(
  scope: GrantScope,
  session: ConsulSession,
  ops: readonly TxnOp[],
  doing: string,
): void {
  scope.sweeper.add({
    attempt: async () => {
      if (session.live) await transaction(scope.http, ops, doing);
      return 'done';
    },
  });
}
