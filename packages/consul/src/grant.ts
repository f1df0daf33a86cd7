/**
 * A held Consul lock: what core's handle renews, releases and watches.
 *
 * Release is a transaction `[check-session S, check-index T, delete]` (native keys: `unlock` instead
 * of `delete`, as api/lock.go's Unlock). It never frees someone else's lock, by construction:
 * - another session's lock fails `check-session` (only the holding session can release in Consul);
 * - a later grant of our own session — Consul lets a session re-acquire what it holds — has another
 *   ModifyIndex (each grant writes a fresh owner id), so it fails `check-index T`, T being this
 *   grant's fencing token; and our local claims keep two grants of one session from coexisting.
 *
 * Loss: the session ended (renewal answered 404, or renewals failed until its TTL ran out), or the
 * monitor — a blocking query on the key, as api/lock.go's monitorLock — saw the key deleted or held
 * by another session, or a renewal check found the same. Then `lost` aborts, once.
 * @module
 */
import { type LeaseGrant, LossFlag, type LossNotice, sleep } from '@lockstep/core';
import { followKey } from './blocking.js';
import type { ConsulHttp } from './http.js';
import type { KvEntry } from './json.js';
import { readKey, type TxnOp, transaction } from './kv.js';
import { LOCK_FLAG_VALUE } from './native.js';
import type { ConsulSession, SessionMember } from './session.js';
import type { ReleaseWatches } from './watch.js';

/**
 * The monitor starts this long after the grant, so short critical sections cost no extra request.
 * A change before then is still seen: the monitor's first query blocks on the grant's own index
 * and returns at once if the key moved since.
 */
export const MONITOR_DELAY_MS = 250;
/** `wait` of the monitor's blocking queries. */
export const MONITOR_WAIT_MS = 60_000;
const CLEANUP_RETRY_MS = [200, 1_000, 3_000];
/** Reason of a monitor stopped by release or loss (a constant: no DOMException per release). */
const MONITOR_STOPPED = new Error('the lock was released or lost; monitor stopped');

/** Everything a grant needs. */
export interface GrantContext {
  readonly http: ConsulHttp;
  readonly session: ConsulSession;
  readonly key: string;
  readonly claim: symbol;
  /** The key's ModifyIndex written by the acquiring transaction: the fencing token. */
  readonly token: bigint;
  /** A native (`consul lock`) key: released with `unlock`, keeping the key, as api/lock.go does. */
  readonly native: boolean;
  readonly watches: ReleaseWatches;
}

/** See the module comment. */
export class ConsulGrant implements LeaseGrant, SessionMember {
  readonly fencingToken: bigint;
  readonly #ctx: GrantContext;
  readonly #lost = new LossFlag();
  /** Created when the monitor starts: most short holds never need one. */
  #monitor: AbortController | undefined;
  readonly #monitorTimer: NodeJS.Timeout;
  readonly #leaveSession: () => void;
  /** Released or lost: nothing more to do on the server. */
  #settled = false;

  constructor(ctx: GrantContext) {
    this.#ctx = ctx;
    this.fencingToken = ctx.token;
    this.#leaveSession = ctx.session.join(this);
    this.#monitorTimer = setTimeout(() => this.#startMonitor(), MONITOR_DELAY_MS);
    this.#monitorTimer.unref();
  }

  get lost(): LossNotice {
    return this.#lost;
  }

  /**
   * Per-session lease: the session's keepalive renews it, so this only checks that the lock is
   * still ours. Any `ttlMs` is fine: core ends a pure lease (autoExtend: false) at its own deadline,
   * and the session's watchdog aborts `lost` the moment the session itself could have expired.
   */
  async renew(_ttlMs: number): Promise<boolean> {
    return this.isHeld();
  }

  async isHeld(): Promise<boolean> {
    if (this.#settled) return false;
    const entry = await readKey(this.#ctx.http, this.#ctx.key, 'checking a lock');
    const held = this.#heldIn(entry);
    if (!held) this.#lose(new Error(`the key ${this.#ctx.key} is no longer held by our session`));
    return held && !this.#settled;
  }

  async release(): Promise<boolean> {
    if (this.#settled) return false;
    this.#settle();
    const { session, key, claim, watches } = this.#ctx;
    try {
      if (!session.owns(key, claim)) return false;
      return await this.#releaseOnServer();
    } catch (error) {
      void this.#retryRelease();
      throw error;
    } finally {
      session.unclaim(key, claim);
      watches.notify(key);
    }
  }

  onSessionLost(reason: Error): void {
    this.#lose(reason);
  }

  /** One request when nothing unusual happened; two more if a third party rewrote our key. */
  async #releaseOnServer(): Promise<boolean> {
    const { http, key, session } = this.#ctx;
    const outcome = await transaction(http, this.#releaseOps(this.fencingToken), 'releasing a lock');
    if (outcome.committed) return true;
    // A plain PUT by someone else keeps the holder but moves ModifyIndex. The key is still ours if
    // our session holds it: our claim on it means no later grant of this session exists.
    const entry = await readKey(http, key, 'releasing a lock');
    if (entry === undefined || entry.session !== session.id || entry.modifyIndex === this.fencingToken) {
      return false;
    }
    const retried = await transaction(http, this.#releaseOps(entry.modifyIndex), 'releasing a lock');
    return retried.committed;
  }

  #releaseOps(index: bigint): TxnOp[] {
    const { key, session, native } = this.#ctx;
    return [
      { verb: 'check-session', key, session: session.id },
      { verb: 'check-index', key, index },
      native ? { verb: 'unlock', key, session: session.id, flags: LOCK_FLAG_VALUE } : { verb: 'delete', key },
    ];
  }

  /**
   * The release request failed in transit: the lock may still be held by our session. Retry in the
   * background, always guarded by this grant's own index, so it can never free a later grant.
   */
  async #retryRelease(): Promise<void> {
    for (const delay of CLEANUP_RETRY_MS) {
      await sleep(delay);
      if (!this.#ctx.session.alive) return;
      try {
        await transaction(this.#ctx.http, this.#releaseOps(this.fencingToken), 'releasing a lock (retry)');
        return;
      } catch {
        // Still unreachable; the session's TTL is the last resort.
      }
    }
  }

  #heldIn(entry: KvEntry | undefined): boolean {
    const { session, key, claim } = this.#ctx;
    return entry !== undefined && entry.session === session.id && session.owns(key, claim);
  }

  #startMonitor(): void {
    if (this.#settled) return;
    this.#monitor = new AbortController();
    void followKey(this.#ctx.http, {
      key: this.#ctx.key,
      startIndex: this.fencingToken,
      waitMs: MONITOR_WAIT_MS,
      consistent: true,
      signal: this.#monitor.signal,
      onState: (state) => {
        if (!state.exists) this.#lose(new Error(`the key ${this.#ctx.key} was deleted`));
        else if (state.entry.session !== this.#ctx.session.id) {
          this.#lose(new Error(`the key ${this.#ctx.key} is held by another session now`));
        }
      },
    });
  }

  #settle(): void {
    this.#settled = true;
    clearTimeout(this.#monitorTimer);
    this.#monitor?.abort(MONITOR_STOPPED);
    this.#leaveSession();
  }

  #lose(reason: Error): void {
    if (this.#settled) return;
    this.#settle();
    this.#ctx.session.unclaim(this.#ctx.key, this.#ctx.claim);
    this.#lost.abort(reason);
  }
}
