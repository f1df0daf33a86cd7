/**
 * Where sessions come from: one live {@link ZkSession} at a time per coordinator.
 *
 * With a client lockstep owns (from a URL or a factory), a lost session's client is closed
 * and the next request connects a new one. With a client you own, lockstep never closes it:
 * after a loss declared by the trust window it waits for the same client to be connected again
 * (a new session object, perhaps the same ZooKeeper session); after EXPIRED the client is dead
 * for good (node-zookeeper-client cannot revive it) and every request fails until you give a
 * new one — pass a factory to let lockstep do that.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { everyHostRefused, refusedError, type UrlHost, withTimeout } from '@lockstep/core/driver';
import { closeClient } from './internals.js';
import { StateCode, type ZooKeeperClient } from './raw.js';
import { ZkSession } from './session.js';
import { DEFAULT_ZOOKEEPER_PORT } from './url.js';

/** How long a closing owned client may take to say goodbye to the server. */
const CLOSE_GRACE_MS = 1_000;
/**
 * How long the first connect may take before lockstep checks whether every server refuses
 * TCP connections (a healthy server answers well within it, so it never sees the extra dial).
 */
const REFUSAL_CHECK_AFTER_MS = 100;

/** Where clients come from. */
export type ClientSupply =
  | {
      readonly owned: true;
      readonly create: () => ZooKeeperClient;
      readonly describe: string;
      /** The servers, when known: the first connect then fails as soon as every one refuses. */
      readonly hosts?: readonly UrlHost[];
    }
  | { readonly owned: false; readonly client: ZooKeeperClient };

const unavailable = (why: string) => new BackendUnavailableError('zookeeper', why);

/** Provides the coordinator's live session, connecting (again) when needed. */
export class SessionSource {
  /** Called with every new session (what failed over the last one may work now). */
  onSession: () => void = () => {};
  readonly #supply: ClientSupply;
  readonly #connectTimeoutMs: number;
  readonly #closing = new Set<Promise<void>>();
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

  /**
   * The live session, connecting first when there is none.
   * @throws BackendUnavailableError when no session can be had within `connectTimeoutMs`.
   * @throws `signal.reason` when `signal` aborts first (the connection attempt goes on for others).
   */
  async ready(signal?: AbortSignal): Promise<ZkSession> {
    const live = this.current;
    if (live) return live;
    if (this.#closed) throw unavailable('the coordinator was closed');
    if (!this.#connecting) {
      this.#connecting = this.#connect().finally(() => {
        this.#connecting = undefined;
      });
      // Callers that gave up (aborted) no longer listen; the failure is theirs to see, not unhandled.
      this.#connecting.catch(() => {});
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
    await this.#current?.trust.close();
    await Promise.all(this.#closing);
  }

  async #connect(): Promise<ZkSession> {
    const supply = this.#supply;
    const session = supply.owned ? await this.#connectOwned(supply) : await this.#adopt(supply.client);
    if (this.#closed) {
      await session.trust.close();
      throw unavailable('the coordinator was closed');
    }
    this.#current = session;
    this.#everConnected = true;
    this.onSession();
    return session;
  }

  async #connectOwned(supply: Extract<ClientSupply, { owned: true }>): Promise<ZkSession> {
    const client = supply.create();
    const sentAt = performance.now();
    client.connect();
    try {
      await this.#connected(client, supply.describe, this.#everConnected ? undefined : supply.hosts);
    } catch (error) {
      this.#track(closeClient(client, 0));
      throw error;
    }
    // A lost session's client is done with; a closing coordinator says goodbye politely.
    const close = (graceful: boolean) => this.#track(closeClient(client, graceful ? CLOSE_GRACE_MS : 0));
    return new ZkSession(client, { confirmedAt: sentAt, closeClient: close });
  }

  async #adopt(client: ZooKeeperClient): Promise<ZkSession> {
    if (client.getState().code === StateCode.EXPIRED) {
      throw unavailable(
        "the client's session expired and node-zookeeper-client cannot revive it: create a new client " +
          '(or give zookeeperCoordinator a factory so lockstep can)',
      );
    }
    if (client.getState().code !== StateCode.SYNC_CONNECTED) await this.#connected(client, 'your client');
    // We do not know when the server last heard from this client: prove it now, before the
    // session is handed out (the window's provisional start is replaced by the proof's send time).
    const session = new ZkSession(client, { confirmedAt: performance.now() });
    const timeoutMs = this.#connectTimeoutMs;
    try {
      const unanswered = () =>
        unavailable(`your client: no answer within connectTimeoutMs (${timeoutMs} ms)`);
      if (await withTimeout(session.trust.confirm(), timeoutMs, unanswered)) return session;
    } catch (error) {
      session.trust.markLost('its client did not answer', error);
      throw error;
    }
    throw session.trust.lost.reason;
  }

  #track(closing: Promise<void>): Promise<void> {
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
    return closing;
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
        for (const [event, listener] of listeners) client.removeListener(event, listener);
        if (error) reject(error);
        else resolve();
      };
      const failed = (why: string) => () => done(unavailable(`${describe}: ${why}`));
      const listeners = [
        ['connected', () => done()],
        ['expired', failed('the session expired while connecting')],
        ['authenticationFailed', failed('authentication failed')],
      ] as const;
      for (const [event, listener] of listeners) client.on(event, listener);
      const timer = setTimeout(
        failed(
          `no session within connectTimeoutMs (${timeoutMs} ms) — a server accepted the connection but did not answer, or kept refusing it. Check that these are ZooKeeper client ports (${DEFAULT_ZOOKEEPER_PORT} by default) with a quorum of the ensemble up; raise connectTimeoutMs if it is only slow.`,
        ),
        timeoutMs,
      );
      if (hosts === undefined) return;
      void everyHostRefused(hosts, { signal: refusalCheck.signal, afterMs: REFUSAL_CHECK_AFTER_MS }).then(
        (refusals) => refusals && done(refusedError('zookeeper', 'ZooKeeper', refusals)),
      );
    });
  }
}
