/**
 * A session: one server-side lease that many locks ride on (an etcd lease, a Consul session, a
 * ZooKeeper session, a pinned PostgreSQL connection), kept alive by one keep-alive per period
 * however many locks it carries, and trusted only as long as the server certainly keeps it.
 *
 * The trust window: when the server confirms the session, it has reset the lease to a full TTL
 * no earlier than the instant the confirming request was *sent*, so the session certainly lives
 * until `sentAt + ttl`. Past that instant without a newer confirmation the session declares
 * itself lost — before the server could have expired it and handed its locks to others, never
 * after. Every member (a held lock, a waiter) is told once, synchronously, in one pass.
 *
 * States: `alive` → `lost` (the server said it is gone, or the trust window ran out) or
 * `closed` (ended by us). Both are final: later acquires get a fresh session from the pool.
 *
 * What differs per backend is the {@link SessionStrategy}: how to send one keep-alive, how to
 * check in one round trip which locks the server still has, how to end the session.
 * @module
 */
import { LossFlag, type LossNotice } from '../loss.js';

/** A lock or waiter riding on a session; told once when the session is lost. */
export interface SessionMember {
  sessionLost(reason: Error): void;
}

/** The backend's half of a session. */
export interface SessionStrategy<M extends SessionMember = SessionMember> {
  /**
   * Sends one keep-alive now. `true`: the server confirmed the session (so it lives at least a
   * TTL from the instant this call began). `false`: the server says it is gone. Rejects when no
   * answer came within `timeoutMs`.
   */
  keepAlive(timeoutMs: number): Promise<boolean>;
  /**
   * Optional: after a confirmed keep-alive, asks in one round trip which of `members` the
   * server no longer has (a key deleted by an operator, a lock the server dropped), so that
   * checking every held lock costs one request per session, not one per lock. The members
   * returned are told with `sessionLost` and leave the session.
   */
  verify?(members: ReadonlySet<M>): Promise<Iterable<M>>;
  /** Ends the session on the server, best effort (it expires there at its TTL anyway). */
  end(): Promise<void>;
}

/** How a {@link Session} is kept. */
export interface SessionOptions {
  /** The lease length the server was asked for; the trust window is this long. */
  readonly ttlMs: number;
  /** `performance.now()` when the request that created the session was sent. */
  readonly confirmedAt: number;
  /** Keep-alives go out this share of the TTL after the last confirmation. Default 1/3. */
  readonly keepAliveShare?: number;
  /** Longest wait for a keep-alive's answer (also capped by what is left of the window). */
  readonly keepAliveTimeoutMs?: number;
  /** Words for loss messages: `"etcd lease 7f3a"`, `"Consul session 3c2b…"`. */
  readonly describe: string;
}

/** Why a session ended (the `reason` members and {@link Session.lost} carry). */
export class SessionLostError extends Error {
  constructor(session: string, why: string, options?: { cause?: unknown }) {
    super(`${session} is gone: ${why}`, options);
    this.name = 'SessionLostError';
  }
}

/** A failed keep-alive is retried this share of the TTL later, several times within the window. */
const RETRY_SHARE = 1 / 10;
/** ... but not more often than this. */
const MIN_RETRY_MS = 25;

type State = 'alive' | 'lost' | 'closed';

/** One session and its trust window (see the module comment). */
export class Session<M extends SessionMember = SessionMember> {
  readonly ttlMs: number;
  readonly #strategy: SessionStrategy<M>;
  readonly #keepAliveShare: number;
  readonly #keepAliveTimeoutMs: number;
  readonly #describe: string;
  readonly #lost = new LossFlag();
  /** Members in a Set, not as listeners: thousands of locks may ride on one session. */
  readonly #members = new Set<M>();
  #state: State = 'alive';
  #confirmedAt: number;
  #lastError: unknown;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: { readonly sentAt: number; readonly answer: Promise<boolean> } | undefined;
  #verifying = false;
  /** Keys, waits or locks that depend on the session (the pool retires it when none do). */
  #users = 0;
  #idleSince: number;
  /** Keep-alives sent (for tests and for the renewal-cost figures). */
  keepAlivesSent = 0;

  constructor(strategy: SessionStrategy<M>, options: SessionOptions) {
    this.#strategy = strategy;
    this.ttlMs = options.ttlMs;
    this.#confirmedAt = options.confirmedAt;
    this.#keepAliveShare = options.keepAliveShare ?? 1 / 3;
    this.#keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? this.ttlMs / 3;
    this.#describe = options.describe;
    this.#idleSince = performance.now();
    this.#arm();
  }

  /** `performance.now()` until which the server certainly keeps the session. */
  get certainUntil(): number {
    return this.#confirmedAt + this.ttlMs;
  }

  /** Whether keep-alives are failing now (the trust window is still open, but closing). */
  get suspect(): boolean {
    return this.#state === 'alive' && this.#lastError !== undefined;
  }

  /** Whether the session is still trusted (new locks may be put on it). */
  get live(): boolean {
    // A stalled event loop runs I/O before timers: a window that ran out while it stalled is
    // noticed here, so nothing new is put on the session before its members are told.
    if (this.#state === 'alive' && performance.now() >= this.certainUntil) this.#tick();
    return this.#state === 'alive';
  }

  /** Trips (with a {@link SessionLostError}) when the session is lost; not when it is closed. */
  get lost(): LossNotice {
    return this.#lost;
  }

  /** Members and pending work that depend on the session. */
  get users(): number {
    return this.#users;
  }

  /** How long nobody has used the session; 0 while in use. */
  get idleMs(): number {
    return this.#users > 0 ? 0 : performance.now() - this.#idleSince;
  }

  /** One more user (a key on the session, a wait in progress). */
  retain(): void {
    this.#users++;
  }

  /** One user fewer. */
  unretain(): void {
    this.#users = Math.max(0, this.#users - 1);
    if (this.#users === 0) this.#idleSince = performance.now();
  }

  /** Tells `member` when the session is lost (on the next microtask if it already is). */
  join(member: M): void {
    if (this.#state === 'alive') {
      this.#members.add(member);
      return;
    }
    const reason = this.#lost.reason as Error | undefined;
    if (reason) queueMicrotask(() => member.sessionLost(reason));
  }

  /** Stops telling `member`. */
  leave(member: M): void {
    this.#members.delete(member);
  }

  /**
   * Any request the server answered proves the session alive at the instant it was sent, on
   * backends where every request does (ZooKeeper, a PostgreSQL connection). Cheap: a number is
   * updated, and the keep-alive timer moves out only when it fires.
   */
  answered(sentAt: number): void {
    if (this.#state === 'alive' && sentAt > this.#confirmedAt) this.#confirmedAt = sentAt;
  }

  /**
   * Proves the session alive with a keep-alive sent no earlier than this call, joining one
   * already in flight if it was sent after the call began. `true`: confirmed. `false`: the
   * server says it is gone (the session is then lost). Rejects when the server cannot be reached.
   */
  confirm(): Promise<boolean> {
    if (this.#state !== 'alive') return Promise.resolve(false);
    const calledAt = performance.now();
    if (this.#inFlight && this.#inFlight.sentAt >= calledAt) return this.#inFlight.answer;
    return this.#keepAlive();
  }

  /** Declares the session gone (a request said so, or the server's state shows it). Idempotent. */
  markLost(why: string, cause?: unknown): void {
    if (this.#state !== 'alive') return;
    this.#state = 'lost';
    clearTimeout(this.#timer);
    const reason = new SessionLostError(this.#describe, why, cause === undefined ? undefined : { cause });
    this.#lost.abort(reason);
    const members = [...this.#members];
    this.#members.clear();
    for (const member of members) member.sessionLost(reason);
  }

  /** Stops the keep-alive and ends the session on the server (its locks go with it). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasAlive = this.#state === 'alive';
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#members.clear();
    if (wasAlive) await this.#strategy.end().catch(() => {});
  }

  #keepAlive(): Promise<boolean> {
    const sentAt = performance.now();
    this.keepAlivesSent++;
    // An answer that comes after the window closed proves nothing: never wait longer.
    const left = this.certainUntil - sentAt;
    const timeoutMs = Math.max(1, Math.min(this.#keepAliveTimeoutMs, left));
    const answer = this.#strategy.keepAlive(timeoutMs).then(
      (alive) => {
        if (this.#state !== 'alive') return false;
        if (!alive) {
          this.markLost('the server says it no longer exists (expired, revoked or destroyed)');
          return false;
        }
        this.#lastError = undefined;
        this.answered(sentAt);
        this.#arm();
        if (this.#strategy.verify && this.#members.size > 0 && !this.#verifying) void this.#verify();
        return true;
      },
      (error: unknown) => {
        this.#lastError = error;
        throw error;
      },
    );
    const flight = { sentAt, answer };
    this.#inFlight = flight;
    const clear = () => {
      if (this.#inFlight === flight) this.#inFlight = undefined;
    };
    answer.then(clear, clear);
    return answer;
  }

  /** One check at a time: a slow check is not joined by another each period. */
  async #verify(): Promise<void> {
    let gone: Iterable<M>;
    this.#verifying = true;
    try {
      gone = await this.#strategy.verify!(this.#members);
    } catch {
      return; // The next period asks again; the trust window is the keep-alive's business.
    } finally {
      this.#verifying = false;
    }
    if (this.#state !== 'alive') return;
    for (const member of gone) {
      if (!this.#members.delete(member)) continue;
      member.sessionLost(new SessionLostError(this.#describe, 'the server no longer has this lock on it'));
    }
  }

  /**
   * One timer for the whole session: it fires for the next keep-alive, or — while one is
   * failing — for the retry, and declares the loss once the window has closed.
   */
  #arm(delayMs?: number): void {
    clearTimeout(this.#timer);
    if (this.#state !== 'alive') return;
    const now = performance.now();
    const due = delayMs ?? this.#confirmedAt + this.ttlMs * this.#keepAliveShare - now;
    const untilLoss = this.certainUntil - now;
    this.#timer = setTimeout(() => this.#tick(), Math.max(1, Math.ceil(Math.min(due, untilLoss))));
    this.#timer.unref();
  }

  #tick(): void {
    if (this.#state !== 'alive') return;
    const now = performance.now();
    if (now >= this.certainUntil) {
      this.markLost(`no keep-alive was confirmed for its whole ${this.ttlMs} ms TTL`, this.#lastError);
      // The server may still hold it (we could not reach it): end it when we can, so its locks
      // do not block others until the server notices.
      void this.#strategy.end().catch(() => {});
      return;
    }
    // Requests answered since the timer was set may have moved the next keep-alive out.
    const due = this.#confirmedAt + this.ttlMs * this.#keepAliveShare;
    if (now < due && this.#lastError === undefined) {
      this.#arm();
      return;
    }
    this.#keepAlive().catch(() => {
      if (this.#state === 'alive') this.#arm(Math.max(MIN_RETRY_MS, this.ttlMs * RETRY_SHARE));
    });
    // While it is out, wake for the window's end in case the answer never comes.
    this.#arm(this.certainUntil - now);
  }
}
