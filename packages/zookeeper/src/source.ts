/**
 * Where sessions come from: one live {@link ZkSession} at a time per coordinator.
 *
 * With a client lockstep owns (from a URL or a factory), a lost session's client is closed
 * and the next request connects a new one. With a client you own, lockstep never closes it:
 * after a loss declared by the trust clock it waits for the same client to be connected again
 * (a new session object, perhaps the same ZooKeeper session); after EXPIRED the client is dead
 * for good (node-zookeeper-client cannot revive it) and every request fails until you give a
 * new one — pass a factory to let lockstep do that.
 * @module
 */
import { BackendUnavailableError, type UrlHost } from '@lockstep/core';
import { everyHostRefused, refusedError } from '@lockstep/core/driver';
import { closeClient } from './internals.js';
import { StateCode, type ZooKeeperClient } from './raw.js';
import { ZkSession } from './session.js';
import { DEFAULT_ZOOKEEPER_PORT } from './url.js';

/** How long a closing owned client may take to say goodbye to the server. */
const CLOSE_GRACE_MS = 1_000;

/** Where clients come from. */
export type ClientSupply =
  | {
      readonly owned: true;
      readonly create: () => ZooKeeperClient;
      readonly describe: string;
      /**
       * The servers the clients connect to, when known: the first connect then fails as soon
       * as every one of them refuses, instead of at `connectTimeoutMs`.
       */
      readonly hosts?: readonly UrlHost[];
    }
  | { readonly owned: false; readonly client: ZooKeeperClient };

/**
 * How long the first connect may take before lockstep checks whether every server refuses
 * TCP connections (a healthy server answers well within it, so it never sees the extra dial).
 */
const REFUSAL_CHECK_AFTER_MS = 100;

/** Provides the coordinator's live session, connecting (again) when needed. */
export class SessionSource {
  readonly #supply: ClientSupply;
  readonly #connectTimeoutMs: number;
  readonly #listeners = new Set<(session: ZkSession) => void>();
  readonly #closing: Promise<void>[] = [];
  #current: ZkSession | undefined;
  #connecting: Promise<ZkSession> | undefined;
  /** Whether a session was ever had: after that, refused servers may be restarting, so wait. */
  #everConnected = false;
  #closed = false;

  constructor(supply: ClientSupply, connectTimeoutMs: number) {
    this.#supply = supply;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /** The live session, if there is one (no I/O). */
  get current(): ZkSession | undefined {
    return this.#current?.live ? this.#current : undefined;
  }

  /** Runs `listener` for every new session (the sweeper retries deletes there). */
  onSession(listener: (session: ZkSession) => void): void {
    this.#listeners.add(listener);
  }

  /**
   * The live session, connecting first when there is none.
   * @throws BackendUnavailableError when no session can be had within `connectTimeoutMs`.
   * @throws `signal.reason` when `signal` aborts first (the connection attempt goes on for others).
   */
  async ready(signal?: AbortSignal): Promise<ZkSession> {
    const live = this.current;
    if (live) return live;
    if (this.#closed) throw new BackendUnavailableError('zookeeper', 'the coordinator was closed');
    if (!this.#connecting) {
      const attempt = this.#connect().finally(() => {
        this.#connecting = undefined;
      });
      // Callers that gave up (aborted) no longer listen; the failure is theirs to see, not unhandled.
      attempt.catch(() => {});
      this.#connecting = attempt;
    }
    const connecting = this.#connecting;
    if (!signal) return connecting;
    signal.throwIfAborted();
    return new Promise<ZkSession>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      connecting.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Ends the current session (closing the client if owned) and refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => {});
    this.#current?.lose('closed', 'the coordinator was closed');
    await Promise.all(this.#closing);
  }

  async #connect(): Promise<ZkSession> {
    const session = this.#supply.owned
      ? await this.#connectOwned(this.#supply)
      : await this.#adopt(this.#supply.client);
    if (this.#closed) {
      session.lose('closed', 'the coordinator was closed while connecting');
      throw new BackendUnavailableError('zookeeper', 'the coordinator was closed');
    }
    this.#current = session;
    this.#everConnected = true;
    for (const listener of this.#listeners) listener(session);
    return session;
  }

  async #connectOwned(supply: Extract<ClientSupply, { owned: true }>): Promise<ZkSession> {
    const client = supply.create();
    const sentAt = performance.now();
    client.connect();
    const failFastOn = this.#everConnected ? undefined : supply.hosts;
    try {
      await this.#connected(client, supply.describe, failFastOn);
    } catch (error) {
      this.#closing.push(closeClient(client, 0));
      throw error;
    }
    return new ZkSession(client, {
      answeredAt: sentAt,
      onLost: (_session, end) => {
        // A lost session's client is done with; a closed coordinator says goodbye politely.
        this.#closing.push(closeClient(client, end === 'closed' ? CLOSE_GRACE_MS : 0));
      },
    });
  }

  async #adopt(client: ZooKeeperClient): Promise<ZkSession> {
    if (client.getState().code === StateCode.EXPIRED) {
      throw new BackendUnavailableError(
        'zookeeper',
        "the client's session expired and node-zookeeper-client cannot revive it: create a new client " +
          '(or give zookeeperCoordinator a factory so lockstep can)',
      );
    }
    if (client.getState().code !== StateCode.SYNC_CONNECTED) await this.#connected(client, 'your client');
    // We do not know when the server last heard from this client: prove it now, before the
    // session is handed out (the clock's provisional start is replaced by the ping's send time).
    const session = new ZkSession(client, { answeredAt: performance.now() });
    const proof = session.ping();
    const timer = setTimeout(
      () => session.lose('silent', `no answer within connectTimeoutMs (${this.#connectTimeoutMs} ms)`),
      this.#connectTimeoutMs,
    );
    try {
      await proof;
    } finally {
      clearTimeout(timer);
    }
    return session;
  }

  /**
   * Resolves when `client` reports a connection; rejects on expiry, auth failure or timeout —
   * or, given `hosts`, as soon as every one of them refuses a connection (node-zookeeper-client
   * keeps cycling through them and never says why it cannot connect).
   */
  #connected(client: ZooKeeperClient, describe: string, hosts?: readonly UrlHost[]): Promise<void> {
    const timeoutMs = this.#connectTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const refusalCheck = new AbortController();
      const done = (error?: Error) => {
        refusalCheck.abort();
        clearTimeout(timer);
        client.removeListener('connected', onConnected);
        client.removeListener('expired', onExpired);
        client.removeListener('authenticationFailed', onAuthFailed);
        if (error) reject(error);
        else resolve();
      };
      const onConnected = () => done();
      const onExpired = () =>
        done(new BackendUnavailableError('zookeeper', `${describe}: the session expired while connecting`));
      const onAuthFailed = () =>
        done(new BackendUnavailableError('zookeeper', `${describe}: authentication failed`));
      const timer = setTimeout(
        () =>
          done(
            new BackendUnavailableError(
              'zookeeper',
              `no session from ${describe} within connectTimeoutMs (${timeoutMs} ms) — a server accepted the connection but did not answer, or kept refusing it. Check that these are ZooKeeper client ports (${DEFAULT_ZOOKEEPER_PORT} by default) with a quorum of the ensemble up; raise connectTimeoutMs if it is only slow.`,
            ),
          ),
        timeoutMs,
      );
      client.on('connected', onConnected);
      client.on('expired', onExpired);
      client.on('authenticationFailed', onAuthFailed);
      if (hosts === undefined) return;
      everyHostRefused(hosts, { signal: refusalCheck.signal, afterMs: REFUSAL_CHECK_AFTER_MS }).then(
        (refusals) => {
          if (refusals !== undefined) done(refusedError('zookeeper', 'ZooKeeper', refusals));
        },
      );
    });
  }
}
