/**
 * The life of a held lock on the client: renewal at about ttl/3, an expiry watchdog that
 * never trusts the lease past the instant it could have ended, and the loss signal.
 *
 * States: `held` → `released` (by release/close) or `held` → `lost` (expired, stolen,
 * session lost, unreachable). Loss aborts `signal` exactly once; release never does.
 * @module
 */
import type { LeaseGrant } from './driver.js';
import { type LockLossReason, LockLostError, UnsupportedError } from './errors.js';
import type { EventHub, EventPrimitive } from './events.js';
import type { LockHandle } from './types.js';
import { validateTtl } from './validate.js';

/** Everything a handle needs from its coordinator. */
export interface LeaseContext {
  readonly backend: string;
  /** What the handle holds, for its events. Default `lock`. */
  readonly primitive?: EventPrimitive;
  readonly lockName: string;
  readonly grant: LeaseGrant;
  readonly ttlMs: number;
  readonly autoExtend: boolean;
  readonly fencing: 'monotonic' | 'none';
  readonly lease: 'per-lock' | 'per-session';
  readonly minTtlMs: number;
  readonly ttlGranularityMs: number;
  /** `performance.now()` when the acquiring request was sent. */
  readonly sentAt: number;
  /** Called once when the handle stops being held (released or lost). */
  readonly onSettled: (handle: LeaseHandle) => void;
  /** Where the handle reports its release, loss and failed renewals. */
  readonly events?: EventHub;
  /** The attempt number its grant was reported with. */
  readonly attempt?: number;
}

type State = 'held' | 'released' | 'lost';

/**
 * Checks a TTL against the backend's minimum, then rounds it up to the backend's granularity.
 * The minimum applies to the TTL as given: rounding must not turn a too-short TTL into an
 * accepted one (1999 ms on a backend with a 2 s minimum is rejected, not rounded to 2 s).
 */
export function normaliseTtl(ttlMs: unknown, minTtlMs: number, granularityMs: number): number {
  const ttl = validateTtl(ttlMs, minTtlMs);
  const rounded = Math.ceil(ttl / granularityMs) * granularityMs;
  return validateTtl(rounded, minTtlMs);
}

/** The core implementation of {@link LockHandle}. */
export class LeaseHandle implements LockHandle {
  readonly name: string;
  readonly #ctx: LeaseContext;
  /** Created on first use of `signal`: most handles are released without anyone asking for it. */
  #controller: AbortController | undefined;
  #lossError: LockLostError | undefined;
  #ttlMs: number;
  #state: State = 'held';
  #validUntil: number;
  /**
   * The one timer of this handle, armed for whichever comes first: the next renewal, or the
   * instant the lease could end (while a renewal is in flight, only the latter). One timer,
   * not two: most handles are released long before either, and each costs a setTimeout.
   */
  #timer: NodeJS.Timeout | undefined;
  /** `performance.now()` of the next renewal; `undefined` without autoExtend. */
  #renewAt: number | undefined;
  #lastRenewError: unknown;
  #renewing = false;
  #releasing: Promise<boolean> | undefined;
  #detachLost: (() => void) | undefined;
  /** Renewed by its session's keep-alive, not by this handle (see {@link LeaseGrant.session}). */
  readonly #keptBySession: boolean;

  /** The attempt number its events carry. */
  get attempt(): number {
    return this.#ctx.attempt ?? 0;
  }

  /** `performance.now()` when the handle was made (for held times). */
  readonly #grantedAt = performance.now();

  constructor(ctx: LeaseContext) {
    this.#ctx = ctx;
    this.name = ctx.lockName;
    this.#ttlMs = ctx.ttlMs;
    // A pure lease on a session ends at its own TTL, and no later than its session could.
    this.#validUntil =
      ctx.grant.validUntil ??
      Math.min(ctx.sentAt + ctx.ttlMs, ctx.grant.session?.certainUntil ?? Number.POSITIVE_INFINITY);
    const lost = ctx.grant.lost;
    if (lost) {
      // A driver that knows why (a LockLostError: expired, stolen) says so; otherwise the
      // session or connection under the lock ended.
      const onLost = () =>
        this.#lose(lost.reason instanceof LockLostError ? lost.reason.reason : 'session-lost', lost.reason);
      if (lost.aborted) queueMicrotask(onLost);
      else {
        lost.addEventListener('abort', onLost, { once: true });
        // A driver may share one signal across many grants (a session): detach when settled.
        this.#detachLost = () => lost.removeEventListener('abort', onLost);
      }
    }
    // A renewing grant on a session is the session's to keep alive, and its loss comes through
    // `lost`: no timer at all (thousands of such locks cost nothing per lock).
    this.#keptBySession = ctx.autoExtend && ctx.grant.session !== undefined;
    if (this.#keptBySession) return;
    if (ctx.autoExtend) this.#renewAt = performance.now() + this.#ttlMs / 3;
    this.#arm();
  }

  get fencingToken(): bigint {
    if (this.#ctx.fencing === 'none' || this.#ctx.grant.fencingToken === undefined) {
      throw new UnsupportedError(
        this.#ctx.backend,
        'fencing tokens',
        'it cannot issue tokens that are monotonic across grants (see capabilities.lock.fencing)',
      );
    }
    return this.#ctx.grant.fencingToken;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#lossError) this.#controller.abort(this.#lossError);
    }
    return this.#controller.signal;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Whether renewals are failing while the lease has not ended yet (the handle's or its session's). */
  get suspect(): boolean {
    return (
      this.#state === 'held' &&
      (this.#lastRenewError !== undefined || this.#ctx.grant.session?.suspect === true)
    );
  }

  /** The driver's grant behind the handle. @internal */
  get leaseGrant(): LeaseGrant {
    return this.#ctx.grant;
  }

  /** `held`, `released` or `lost`. */
  get state(): State {
    return this.#state;
  }

  async extend(ttlMs?: number): Promise<void> {
    const ttl =
      ttlMs === undefined ? this.#ttlMs : normaliseTtl(ttlMs, this.#ctx.minTtlMs, this.#ctx.ttlGranularityMs);
    this.#assertHeld();
    const sentAt = performance.now();
    const ok = await this.#ctx.grant.renew(ttl, true);
    this.#assertHeld();
    if (!ok) {
      this.#lose('stolen');
      this.#assertHeld();
    }
    this.#ttlMs = ttl;
    this.#confirmed(sentAt);
    // A confirmation that arrives after the lease it extends could have ended proves nothing:
    // the lock may have been someone else's in between.
    if (this.#validUntil <= performance.now()) {
      this.#lose('expired');
      this.#assertHeld();
    }
  }

  release(): Promise<boolean> {
    // Idempotent: only the first call can report true; later ones wait for it, then say false.
    if (this.#releasing)
      return this.#releasing.then(
        () => false,
        () => false,
      );
    this.#releasing = this.#doRelease();
    return this.#releasing;
  }

  async isHeld(): Promise<boolean> {
    if (this.#state !== 'held') return false;
    const held = await this.#ctx.grant.isHeld();
    if (!held && this.#state === 'held') this.#lose('stolen');
    return held && this.#state === 'held';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** Marks the handle lost (used by the coordinator on close). */
  abandon(reason: LockLossReason): void {
    this.#lose(reason);
  }

  async #doRelease(): Promise<boolean> {
    const wasHeld = this.#state === 'held';
    this.#stopTimers();
    if (wasHeld) {
      this.#state = 'released';
      this.#ctx.onSettled(this);
      this.#ctx.events?.emit('released', () => ({
        ...this.#about(),
        heldMs: performance.now() - this.#grantedAt,
      }));
    }
    try {
      const released = await this.#ctx.grant.release();
      return wasHeld && released;
    } catch (error) {
      // A lost handle's release is best-effort cleanup: the lock is not ours to report on.
      if (!wasHeld) return false;
      throw error;
    }
  }

  #assertHeld(): void {
    if (this.#state === 'lost') {
      throw this.#lossError ?? new LockLostError(this.name, 'stolen');
    }
    if (this.#state === 'released') throw new LockLostError(this.name, 'stolen', { cause: 'released' });
  }

  #confirmed(sentAt: number): void {
    if (this.#state !== 'held') return;
    this.#lastRenewError = undefined;
    this.#validUntil = Math.max(this.#validUntil, sentAt + this.#ttlMs);
    if (this.#keptBySession) return;
    if (this.#ctx.autoExtend) this.#renewAt = performance.now() + this.#ttlMs / 3;
    this.#arm();
  }

  /** (Re)arms the timer for the next renewal, or for the expiry when that comes first or a renewal is in flight. */
  #arm(): void {
    clearTimeout(this.#timer);
    const renewAt = this.#renewing ? undefined : this.#renewAt;
    const renewFirst = renewAt !== undefined && renewAt < this.#validUntil;
    const at = renewFirst ? renewAt : this.#validUntil;
    const delay = Math.max(renewFirst ? 1 : 0, at - performance.now());
    this.#timer = setTimeout(renewFirst ? () => void this.#renew() : () => this.#onExpiry(), delay);
    this.#timer.unref();
  }

  #onExpiry(): void {
    if (this.#state !== 'held') return;
    this.#lose(this.#lastRenewError === undefined ? 'expired' : 'unreachable', this.#lastRenewError);
    // A per-session backend keeps the lock while the session lives, whether the lease ended by
    // design (a pure lease) or because renewals failed while the session survived: give it
    // back, or it stays held by a handle that is already lost until the coordinator closes.
    if (this.#ctx.lease === 'per-session') this.#ctx.grant.release().catch(() => {});
  }

  async #renew(): Promise<void> {
    if (this.#state !== 'held' || this.#renewing) return;
    this.#renewing = true;
    this.#arm(); // the expiry watchdog, while the renewal is out
    const sentAt = performance.now();
    let ok: boolean;
    try {
      ok = await this.#ctx.grant.renew(this.#ttlMs);
    } catch (error) {
      // Unreachable: keep trying until the lease could have ended (the expiry watchdog
      // then declares the loss). Retry often enough to get several tries in.
      this.#renewing = false;
      if (this.#state !== 'held') return;
      this.#lastRenewError = error;
      this.#renewAt = performance.now() + Math.max(25, this.#ttlMs / 10);
      this.#arm();
      this.#ctx.events?.emit('renewal-failed', () => ({
        ...this.#about(),
        cause: error,
        leftMs: Math.max(0, this.#validUntil - performance.now()),
      }));
      return;
    }
    this.#renewing = false;
    if (this.#state !== 'held') return;
    if (ok) this.#confirmed(sentAt);
    else this.#lose('stolen');
  }

  #lose(reason: LockLossReason, cause?: unknown): void {
    if (this.#state !== 'held') return;
    this.#state = 'lost';
    this.#stopTimers();
    this.#ctx.onSettled(this);
    const error = new LockLostError(this.name, reason, cause === undefined ? undefined : { cause });
    this.#lossError = error;
    this.#controller?.abort(error);
    this.#ctx.events?.emit('lost', () => ({
      ...this.#about(),
      reason,
      cause,
      heldMs: performance.now() - this.#grantedAt,
    }));
  }

  /** The fields every event of this handle carries. */
  #about(): { backend: string; primitive: EventPrimitive; name: string; attempt: number } {
    return {
      backend: this.#ctx.backend,
      primitive: this.#ctx.primitive ?? 'lock',
      name: this.name,
      attempt: this.attempt,
    };
  }

  #stopTimers(): void {
    this.#detachLost?.();
    this.#detachLost = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
