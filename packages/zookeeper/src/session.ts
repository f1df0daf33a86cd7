/**
 * One ZooKeeper session — the client library's own, one per client — and the trust lockstep
 * places in it: core's `Session` recipe is the trust window and the loss fan-out over it.
 *
 * node-zookeeper-client never reports a session expired while it cannot reach the ensemble
 * (its issue #20: expiry is only learned on reconnect), and a silent partition is not even a
 * disconnect to it. So, as Curator 3 does but measured conservatively, the window is our own
 * clock: the server expires a session `timeout` ms after it last heard from us, which was no
 * earlier than the sending of the last request it answered. Every answered request moves the
 * window, the keep-alive (`exists /`) only goes out after a third of the timeout of silence,
 * and once the whole timeout passes unanswered the session is LOST — before the server can
 * have expired it and handed our locks to someone else. An `expired` event is loss too.
 *
 * Every request goes through {@link ZkSession}, which times it for the window and rejects it
 * at once when the session is over (a request to a silent server would otherwise wait forever).
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { Session, type SessionMember, withTimeout } from '@lockstep/core/driver';
import { Code, fromRaw, hasCode, isConnectionError, ZkError } from './errors.js';
import { corked } from './internals.js';
import type {
  RawError,
  RawOpResult,
  RawTransaction,
  RawWatcher,
  Reply,
  ZnodeStat,
  ZooKeeperClient,
} from './raw.js';

/** How a {@link ZkSession} is made. */
export interface ZkSessionOptions {
  /** `performance.now()` at or before the server last heard from us: the window starts there. */
  readonly confirmedAt: number;
  /** Closes a client lockstep owns when the session ends (`graceful`: the coordinator closes). */
  readonly closeClient?: (graceful: boolean) => Promise<void>;
}

type Send<T> = (reply: (error: RawError | null, value: T) => void) => void;

/** One session of one client: its requests, its trust window, the locks riding on it. */
export class ZkSession {
  readonly client: ZooKeeperClient;
  /** The session id in hex (as ZooKeeper writes it in `ephemeralOwner`). */
  readonly id: string;
  /** The negotiated session timeout in ms. */
  readonly timeoutMs: number;
  /** The trust window, and the members told once of its loss (every lock and waiter on it). */
  readonly trust: Session<SessionMember>;
  readonly #pending = new Set<(error: Error) => void>();
  readonly #detach: () => void;
  readonly #closeClient: ZkSessionOptions['closeClient'];
  #ended: Promise<void> | undefined;

  constructor(client: ZooKeeperClient, options: ZkSessionOptions) {
    this.client = client;
    this.id = client.getSessionId().toString('hex');
    this.timeoutMs = client.getSessionTimeout();
    this.#closeClient = options.closeClient;
    this.trust = new Session(
      { keepAlive: (timeoutMs) => this.#ping(timeoutMs), end: () => this.#end() },
      { ttlMs: this.timeoutMs, confirmedAt: options.confirmedAt, describe: `ZooKeeper session 0x${this.id}` },
    );
    const onExpired = () => this.trust.markLost('the server expired it');
    // After a reconnect, prove the session alive again at once rather than after a silence.
    const onConnected = () => void this.trust.confirm().catch(() => {});
    client.on('expired', onExpired).on('connected', onConnected);
    this.#detach = () => client.removeListener('expired', onExpired).removeListener('connected', onConnected);
    this.trust.lost.addEventListener('abort', () => void this.#end());
  }

  /** Whether the session is still trusted (requests may be sent on it). */
  get live(): boolean {
    return this.trust.live;
  }

  getChildren(path: string, watcher?: RawWatcher): Promise<string[]> {
    return this.#request(`getChildren ${path}`, (reply) =>
      watcher ? this.client.getChildren(path, watcher, reply) : this.client.getChildren(path, reply),
    );
  }

  getData(path: string, watcher?: RawWatcher): Promise<{ data: Buffer; stat: ZnodeStat }> {
    return this.#request(`getData ${path}`, (reply) => {
      const answer: Reply<Buffer> = (error, data, stat) => reply(error, { data, stat });
      if (watcher) this.client.getData(path, watcher, answer);
      else this.client.getData(path, answer);
    });
  }

  /** The node's stat, or `null` when it does not exist; `watcher` hears of its next change (or creation). */
  exists(path: string, watcher?: RawWatcher): Promise<ZnodeStat | null> {
    return this.#request(`exists ${path}`, (reply) =>
      watcher ? this.client.exists(path, watcher, reply) : this.client.exists(path, reply),
    );
  }

  create(path: string, data: Buffer, mode: number): Promise<string> {
    return this.#request(`create ${path}`, (reply) => this.client.create(path, data, mode, reply));
  }

  remove(path: string): Promise<void> {
    return this.#request(`delete ${path}`, (reply) =>
      this.client.remove(path, -1, (e) => reply(e, undefined)),
    );
  }

  setData(path: string, data: Buffer, version: number): Promise<ZnodeStat> {
    return this.#request(`setData ${path}`, (reply) => this.client.setData(path, data, version, reply));
  }

  /** Runs `issue`, which sends several requests at once (pipelining), so they leave in one socket write. */
  together<T>(issue: () => T): T {
    return corked(this.client, issue);
  }

  /** Builds and commits a multi-op transaction: all of it applies, under one zxid, or none. */
  multi(what: string, build: (tx: RawTransaction) => void): Promise<RawOpResult[]> {
    return this.#request(what, (reply) => {
      const tx = this.client.transaction();
      build(tx);
      tx.commit(reply);
    });
  }

  /**
   * Sends one request. Requests issued in the same tick leave in order on one connection and
   * the server answers them in order: that is how callers pipeline.
   */
  #request<T>(what: string, send: Send<T>): Promise<T> {
    if (!this.trust.live) return Promise.reject(this.#over());
    return new Promise<T>((resolve, reject) => {
      const sentAt = performance.now();
      this.#pending.add(reject);
      const reply = (error: RawError | null, value: T) => {
        if (!this.#pending.delete(reject)) return; // already rejected: the session is over
        if (!error) {
          this.trust.answered(sentAt);
          return resolve(value);
        }
        const failure = fromRaw(error, what);
        if (!isConnectionError(failure)) this.trust.answered(sentAt);
        reject(failure);
        if (failure.code === Code.SESSION_EXPIRED)
          this.trust.markLost('a request was refused: session expired');
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

  /** The keep-alive: one `exists /`, answered or not within `timeoutMs`. */
  async #ping(timeoutMs: number): Promise<boolean> {
    const unanswered = () =>
      new BackendUnavailableError('zookeeper', `keep-alive: no answer in ${timeoutMs} ms`);
    try {
      await withTimeout(this.exists('/'), timeoutMs, unanswered);
      return true;
    } catch (error) {
      if (hasCode(error, Code.SESSION_EXPIRED)) return false;
      throw error;
    }
  }

  /** The session is over (lost or closed): pending requests fail, an owned client is closed. */
  #end(): Promise<void> {
    if (this.#ended) return this.#ended;
    this.#detach();
    const error = this.#over();
    for (const reject of this.#pending) reject(error);
    this.#pending.clear();
    this.#ended = this.#closeClient?.(!this.trust.lost.aborted) ?? Promise.resolve();
    return this.#ended;
  }

  #over(): Error {
    return (
      (this.trust.lost.reason as Error | undefined) ??
      new BackendUnavailableError('zookeeper', `session 0x${this.id}: the coordinator was closed`)
    );
  }
}
