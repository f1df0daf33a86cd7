/**
 * One ZooKeeper session, and the trust we place in it.
 *
 * node-zookeeper-client never reports a session expired while it cannot reach the ensemble
 * (its issue #20: expiry is only learned on reconnect), and with a silent partition it does
 * not even report a disconnect. So, like Curator 3, the session runs its own clock: the
 * server expires a session `timeout` ms after it last heard from the client, and it heard
 * from us no earlier than the moment we sent the last request it answered. Once that long
 * has passed without an answer the session is declared LOST — before the server can have
 * expired it and handed our locks to someone else. A heartbeat (`exists /`) keeps the clock
 * fresh while nothing else is being said. An EXPIRED event from the client is loss too.
 *
 * Every request goes through {@link ZkSession}, which times it for the clock and rejects it
 * at once when the session is lost (a request to a silent server would otherwise wait forever).
 * @module
 */
import { setMaxListeners } from 'node:events';
import { BackendUnavailableError } from '@lockstep/core';
import { Code, fromRaw, isConnectionError, ZkError } from './errors.js';
import { corked } from './internals.js';
import {
  type RawException,
  type RawOpResult,
  type RawTransaction,
  type RawWatcher,
  sessionHex,
  type ZnodeStat,
  type ZooKeeperClient,
} from './raw.js';

/** How a session learned of its end. */
export type SessionEnd = 'expired' | 'silent' | 'closed';

/** Options of {@link ZkSession}. */
export interface ZkSessionOptions {
  /**
   * `performance.now()` at or before the server last heard from us (when the connect
   * request was sent). The trust clock starts there.
   */
  readonly answeredAt: number;
  /** Called once when the session is lost (owned clients are closed there). */
  readonly onLost?: (session: ZkSession, end: SessionEnd) => void;
}

/** Something that must hear of the session's loss (a held lock). */
export interface SessionMember {
  sessionLost(reason: unknown): void;
}

/** A znode's data and stat. */
export interface ZnodeData {
  readonly data: Buffer;
  readonly stat: ZnodeStat;
}

/** One session of one client: its requests, its trust clock, its loss signal. */
export class ZkSession {
  readonly client: ZooKeeperClient;
  /** The session id in hex (as ZooKeeper writes it in `ephemeralOwner`). */
  readonly id: string;
  /** The negotiated session timeout in ms. */
  readonly timeoutMs: number;
  readonly #lost = new AbortController();
  readonly #pending = new Set<(error: Error) => void>();
  /** Told of the loss; a Set rather than abort listeners, which cost more on every lock cycle. */
  readonly #members = new Set<SessionMember>();
  readonly #onLost: ZkSessionOptions['onLost'];
  readonly #detach: () => void;
  #lastAnsweredSentAt: number;
  #heartbeating = false;
  #lastHeartbeatAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(client: ZooKeeperClient, options: ZkSessionOptions) {
    this.client = client;
    this.id = sessionHex(client.getSessionId());
    this.timeoutMs = client.getSessionTimeout();
    this.#lastAnsweredSentAt = options.answeredAt;
    this.#onLost = options.onLost;
    // Every held lock and waiter listens here; that is not a leak.
    setMaxListeners(0, this.#lost.signal);
    const onExpired = () => this.lose('expired', 'the server expired the session');
    // After a reconnect, prove the session alive again at once rather than at the next heartbeat.
    const onConnected = () => this.#heartbeat();
    client.on('expired', onExpired);
    client.on('connected', onConnected);
    this.#detach = () => {
      client.removeListener('expired', onExpired);
      client.removeListener('connected', onConnected);
    };
    this.#schedule();
  }

  /** Aborted (with a BackendUnavailableError) when the session is lost or may have expired. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Whether the session is still trusted. */
  get live(): boolean {
    return !this.#lost.signal.aborted;
  }

  /**
   * The `performance.now()` instant until which the server certainly keeps this session:
   * the send time of the last answered request plus the session timeout.
   */
  get certainUntil(): number {
    return this.#lastAnsweredSentAt + this.timeoutMs;
  }

  /** Tells `member` of this session's loss (at once if it is already lost). */
  join(member: SessionMember): void {
    if (this.live) this.#members.add(member);
    else member.sessionLost(this.#lost.signal.reason);
  }

  /** Stops telling `member`. */
  leave(member: SessionMember): void {
    this.#members.delete(member);
  }

  /** Declares the session lost: rejects every pending request and aborts {@link lost}. Idempotent. */
  lose(end: SessionEnd, why: string, cause?: unknown): void {
    if (this.#lost.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#detach();
    const error = new BackendUnavailableError('zookeeper', `session 0x${this.id} lost: ${why}`, { cause });
    this.#lost.abort(error);
    for (const reject of this.#pending) reject(error);
    this.#pending.clear();
    for (const member of this.#members) member.sessionLost(error);
    this.#members.clear();
    this.#onLost?.(this, end);
  }

  /** Proves the session alive with one round trip (resolves when answered). */
  async ping(): Promise<void> {
    await this.exists('/');
  }

  getChildren(path: string, watcher?: RawWatcher): Promise<{ children: string[]; stat: ZnodeStat }> {
    return this.#request(`getChildren ${path}`, (reply) =>
      this.client.getChildren(path, watcher, (error, children, stat) => reply(error, { children, stat })),
    );
  }

  getData(path: string, watcher?: RawWatcher): Promise<ZnodeData> {
    return this.#request(`getData ${path}`, (reply) =>
      this.client.getData(path, watcher, (error, data, stat) => reply(error, { data, stat })),
    );
  }

  /** The node's stat, or `null` when it does not exist. */
  exists(path: string): Promise<ZnodeStat | null> {
    return this.#request(`exists ${path}`, (reply) =>
      this.client.exists(path, (error, stat) => reply(error, stat)),
    );
  }

  create(path: string, data: Buffer, mode: number): Promise<string> {
    return this.#request(`create ${path}`, (reply) =>
      this.client.create(path, data, mode, (error, created) => reply(error, created)),
    );
  }

  remove(path: string, version = -1): Promise<void> {
    return this.#request(`delete ${path}`, (reply) =>
      this.client.remove(path, version, (error) => reply(error, undefined)),
    );
  }

  setData(path: string, data: Buffer, version: number): Promise<ZnodeStat> {
    return this.#request(`setData ${path}`, (reply) =>
      this.client.setData(path, data, version, (error, stat) => reply(error, stat)),
    );
  }

  /**
   * Runs `issue`, which sends several requests at once (pipelining), so that they leave in
   * one socket write.
   */
  together<T>(issue: () => T): T {
    return corked(this.client, issue);
  }

  /** Builds and commits a multi-op transaction: all of it applies, under one zxid, or none. */
  multi(what: string, build: (tx: RawTransaction) => void): Promise<RawOpResult[]> {
    return this.#request(what, (reply) => {
      const tx = this.client.transaction();
      build(tx);
      tx.commit((error, results) => reply(error, results));
    });
  }

  /**
   * Sends one request. Requests issued in the same tick leave in order on one connection and
   * the server answers them in order: that is how callers pipeline.
   */
  #request<T>(
    what: string,
    send: (reply: (error: RawException | null, value: T) => void) => void,
  ): Promise<T> {
    const lost = this.#lost.signal;
    if (lost.aborted) return Promise.reject(lost.reason);
    return new Promise<T>((resolve, reject) => {
      const sentAt = performance.now();
      this.#pending.add(reject);
      const reply = (error: RawException | null, value: T) => {
        if (!this.#pending.delete(reject)) return; // already rejected: the session was lost
        if (error === null || error === undefined) {
          this.#answered(sentAt);
          resolve(value);
          return;
        }
        const failure = fromRaw(error, what);
        if (!isConnectionError(failure)) this.#answered(sentAt);
        reject(failure);
        if (failure.code === Code.SESSION_EXPIRED)
          this.lose('expired', 'a request was refused: session expired');
      };
      try {
        send(reply);
      } catch (error) {
        // The client validates paths synchronously (assert); nothing was sent.
        this.#pending.delete(reject);
        reject(new ZkError(Number.NaN, `${what}: ${error instanceof Error ? error.message : String(error)}`));
      }
    });
  }

  #answered(sentAt: number): void {
    if (sentAt > this.#lastAnsweredSentAt) this.#lastAnsweredSentAt = sentAt;
  }

  /** The trust clock: heartbeat after a third of the timeout of silence, loss after all of it. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.live) return;
    const now = performance.now();
    const deadline = this.certainUntil;
    if (now >= deadline) {
      this.lose(
        'silent',
        `no answer for the whole negotiated session timeout (${this.timeoutMs} ms): the server may have expired it`,
      );
      return;
    }
    // A failed heartbeat is not retried at once: at most one per sixth of the timeout.
    const heartbeatAt = Math.max(
      this.#lastAnsweredSentAt + this.timeoutMs / 3,
      this.#lastHeartbeatAt + this.timeoutMs / 6,
    );
    if (now >= heartbeatAt) this.#heartbeat();
    const next = this.#heartbeating ? deadline : Math.min(deadline, heartbeatAt);
    this.#timer = setTimeout(() => this.#schedule(), Math.max(1, Math.ceil(next - now)));
    this.#timer.unref();
  }

  #heartbeat(): void {
    if (this.#heartbeating || !this.live) return;
    this.#heartbeating = true;
    this.#lastHeartbeatAt = performance.now();
    this.ping()
      .catch(() => {})
      .finally(() => {
        this.#heartbeating = false;
        if (this.live) this.#schedule();
      });
  }
}
