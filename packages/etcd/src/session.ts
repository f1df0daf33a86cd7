/**
 * A session: one etcd lease and its keep-alive, the thing every lock key hangs on (etcd's
 * `concurrency.Session`, with the loss detection it leaves to callers).
 *
 * States: `granting` → `alive` → `lost` (the server said the lease is gone, or no keep-alive
 * was confirmed for a whole TTL) or `closed` (revoked by us). `lost` is final: keys on the
 * lease are gone or will be soon, so later acquires use a fresh session.
 *
 * Time is measured from the instant a keep-alive was *sent*: when its answer says the lease
 * is alive, the server reset it to a full TTL no earlier than that instant, so the lease
 * certainly lives until `sentAt + ttl`. Past that without a newer confirmation, the session
 * declares itself lost — before the server could have expired it, never after.
 * @module
 */
import { setMaxListeners } from 'node:events';
import type { KeepAliveChannel } from './keepalive.js';
import type { EtcdRpc } from './rpc.js';

/** Why a session ended. */
export class SessionLostError extends Error {
  readonly leaseId: bigint | undefined;
  constructor(leaseId: bigint | undefined, why: string, options?: { cause?: unknown }) {
    super(
      `etcd lease ${leaseId === undefined ? '(not granted)' : leaseId.toString(16)} is gone: ${why}`,
      options,
    );
    this.name = 'SessionLostError';
    this.leaseId = leaseId;
  }
}

type State = 'granting' | 'alive' | 'lost' | 'closed';

/** Told once when a session is lost (a held lock follows its session this way). */
export interface SessionFollower {
  onSessionLost(reason: SessionLostError): void;
}

/** One lease kept alive at about TTL/3. */
export class LeaseSession {
  /** The TTL asked for, in ms (whole seconds). Deadlines use it, even if the server granted more. */
  readonly ttlMs: number;
  /** Resolves with the lease id once granted; rejects (and the session is lost) when the grant fails. */
  readonly ready: Promise<bigint>;
  readonly #rpc: EtcdRpc;
  readonly #channel: KeepAliveChannel;
  readonly #lost = new AbortController();
  #state: State = 'granting';
  #id: bigint | undefined;
  /** The id as etcd's JSON-mapped int64 (decimal) and as key names write it (hex), made once. */
  #idText = '';
  #idHex = '';
  /** Held locks on this lease: a plain set, cheaper than one signal listener per lock. */
  readonly #followers = new Set<SessionFollower>();
  /** `performance.now()` at which the last confirmed keep-alive (or the grant) was sent. */
  #confirmedAt = 0;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #inFlight: { readonly sentAt: number; readonly answer: Promise<boolean> } | undefined;
  /** Keys (held or queued) that depend on this lease. */
  #users = 0;
  /** Per queue, the key-name slots in use (see {@link LeaseSession.claimSlot}). */
  readonly #slots = new Map<string, Set<number>>();
  /** Keep-alives sent, for tests. */
  keepAlivesSent = 0;

  constructor(rpc: EtcdRpc, channel: KeepAliveChannel, ttlMs: number) {
    this.#rpc = rpc;
    this.#channel = channel;
    this.ttlMs = ttlMs;
    // Every lock held on this lease listens for its loss: dozens of listeners are normal here.
    setMaxListeners(0, this.#lost.signal);
    const sentAt = performance.now();
    this.ready = rpc.grant(ttlMs / 1000).then(
      ({ id }) => {
        this.#id = id;
        this.#idText = id.toString();
        this.#idHex = id.toString(16);
        if (this.#state !== 'granting') {
          // Closed while granting: give the lease straight back.
          rpc.revoke(id).catch(() => {});
          throw new SessionLostError(id, 'the coordinator was closed');
        }
        this.#state = 'alive';
        this.#confirmed(sentAt);
        return id;
      },
      (error) => {
        this.#lose('the lease could not be granted', error);
        throw error;
      },
    );
    this.ready.catch(() => {});
  }

  /** The lease id once granted, else `undefined` (lets a hot path skip awaiting `ready`). */
  get grantedId(): bigint | undefined {
    return this.#id;
  }

  /** The lease id (only after `ready` resolved). */
  get id(): bigint {
    if (this.#id === undefined) throw new Error('lease not granted yet');
    return this.#id;
  }

  /** The lease id in decimal, as request fields take it (only after `ready` resolved). */
  get idText(): string {
    if (this.#id === undefined) throw new Error('lease not granted yet');
    return this.#idText;
  }

  /** The lease id in hex, as key names write it (only after `ready` resolved). */
  get idHex(): string {
    if (this.#id === undefined) throw new Error('lease not granted yet');
    return this.#idHex;
  }

  /** Tells `follower` when this session is lost (at once, on the next microtask, if it already is). */
  follow(follower: SessionFollower): void {
    if (this.#state === 'lost') {
      const reason = this.#lost.signal.reason as SessionLostError;
      queueMicrotask(() => follower.onSessionLost(reason));
      return;
    }
    this.#followers.add(follower);
  }

  unfollow(follower: SessionFollower): void {
    this.#followers.delete(follower);
  }

  /** Aborted (with a {@link SessionLostError}) when the lease is gone. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Whether new keys may still be put on this lease. */
  get usable(): boolean {
    return this.#state === 'granting' || this.#state === 'alive';
  }

  /** `performance.now()` until which the lease certainly lives (the last confirmation + TTL). */
  get certainUntil(): number {
    return this.#confirmedAt + this.ttlMs;
  }

  /** Number of keys depending on this lease. */
  get users(): number {
    return this.#users;
  }

  retain(): void {
    this.#users++;
  }

  unretain(): void {
    this.#users = Math.max(0, this.#users - 1);
  }

  /**
   * The smallest slot number not in use in `queue`: contender keys are named by lease and
   * slot, so two acquires of one lock through this lease get different keys, and a key name
   * is reused once its previous key is gone. (etcd keeps every deleted key in its index until
   * the next compaction, and a queue read visits them all: a fresh name per acquire would make
   * each acquire slower than the last.)
   */
  claimSlot(queue: string): number {
    let used = this.#slots.get(queue);
    if (!used) {
      used = new Set();
      this.#slots.set(queue, used);
    }
    let slot = 0;
    while (used.has(slot)) slot++;
    used.add(slot);
    return slot;
  }

  /** Frees a slot once the key named by it is certainly gone. */
  releaseSlot(queue: string, slot: number): void {
    const used = this.#slots.get(queue);
    if (!used) return;
    used.delete(slot);
    if (used.size === 0) this.#slots.delete(queue);
  }

  /**
   * Proves the lease alive with a keep-alive sent no earlier than this call (joining one
   * already in flight if it was). `true`: alive, and extended to a full TTL. `false`: the
   * server says the lease is gone (the session is then lost). Throws when etcd cannot be
   * reached in time.
   */
  confirm(): Promise<boolean> {
    const calledAt = performance.now();
    if (this.#state === 'lost' || this.#state === 'closed') return Promise.resolve(false);
    if (this.#inFlight && this.#inFlight.sentAt >= calledAt) return this.#inFlight.answer;
    return this.ready.then(() => this.#keepAlive());
  }

  /** Declares the lease gone (e.g. a put said "lease not found"). Idempotent. */
  markLost(why: string, cause?: unknown): void {
    this.#lose(why, cause);
  }

  /** Stops the keep-alive and revokes the lease (its keys are deleted). */
  async close(): Promise<void> {
    const wasUsable = this.usable;
    this.#state = 'closed';
    this.#stopTimers();
    if (!wasUsable || this.#id === undefined) return;
    await this.#rpc.revoke(this.#id).catch(() => {});
  }

  #keepAlive(): Promise<boolean> {
    if (this.#state !== 'alive') return Promise.resolve(false);
    const sentAt = performance.now();
    this.keepAlivesSent++;
    // A keep-alive must be answered well within what is left of the lease to be of use.
    const timeoutMs = Math.max(250, Math.min(this.#rpc.timeoutMs, this.ttlMs / 3));
    const answer = this.#channel.keepAlive(this.id, timeoutMs).then((ttl) => {
      if (ttl <= 0) {
        this.#lose('the server reports it expired or revoked');
        return false;
      }
      this.#confirmed(sentAt);
      return true;
    });
    const flight = { sentAt, answer };
    this.#inFlight = flight;
    const clear = () => {
      if (this.#inFlight === flight) this.#inFlight = undefined;
    };
    answer.then(clear, clear);
    return answer;
  }

  #confirmed(sentAt: number): void {
    if (this.#state !== 'alive') return;
    this.#confirmedAt = Math.max(this.#confirmedAt, sentAt);
    clearTimeout(this.#deadlineTimer);
    const left = this.#confirmedAt + this.ttlMs - performance.now();
    this.#deadlineTimer = setTimeout(() => this.#onDeadline(), Math.max(0, left));
    this.#deadlineTimer.unref();
    this.#schedule(this.ttlMs / 3);
  }

  #onDeadline(): void {
    if (this.#state !== 'alive') return;
    if (performance.now() < this.#confirmedAt + this.ttlMs) return;
    this.#lose(`no keep-alive was confirmed for ${this.ttlMs} ms`);
    // The server may still hold the lease (we could not reach it): revoke when we can, so
    // our keys do not block others until the server notices.
    if (this.#id !== undefined) this.#rpc.revoke(this.#id).catch(() => {});
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#keepAliveTimer);
    this.#keepAliveTimer = setTimeout(() => this.#tick(), Math.max(1, delayMs));
    this.#keepAliveTimer.unref();
  }

  #tick(): void {
    if (this.#state !== 'alive') return;
    this.#keepAlive().catch(() => {
      // Unreachable: try again soon; the deadline timer declares the loss if this goes on.
      if (this.#state === 'alive') this.#schedule(Math.max(100, this.ttlMs / 10));
    });
  }

  #lose(why: string, cause?: unknown): void {
    if (this.#state === 'lost' || this.#state === 'closed') return;
    this.#state = 'lost';
    this.#stopTimers();
    const reason = new SessionLostError(this.#id, why, cause === undefined ? undefined : { cause });
    this.#lost.abort(reason);
    const followers = [...this.#followers];
    this.#followers.clear();
    for (const follower of followers) follower.onSessionLost(reason);
  }

  #stopTimers(): void {
    clearTimeout(this.#keepAliveTimer);
    clearTimeout(this.#deadlineTimer);
  }
}
