/**
 * The coordinator's listening connection: one connection pinned out of the pool for `LISTEN`,
 * opened when the first subscription needs it and given back a couple of seconds after the last
 * one left. Semaphore waiters and election observers share it, one channel per semaphore or
 * election, listened to only while someone here subscribes.
 *
 * A channel may come with a marker: a shared advisory lock this connection holds while it
 * listens, so that whoever would notify the channel can ask the lock manager (without a write)
 * whether anyone listens at all.
 *
 * Notifications are lost while the connection is down. When it comes back (after a backoff,
 * re-listening to every channel in one round trip) every subscriber is told, so it can re-read
 * what it watches. A ping after a few seconds of silence finds a connection that died without
 * a word (and keeps a server's `idle_session_timeout` from ending it).
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { Backoff, withTimeout } from '@lockstep/core/driver';
import type pg from 'pg';
import { isSessionFatal } from './errors.js';

/** What a subscriber of a channel is told. */
export interface ChannelEvents {
  /** A notification on the channel, with its payload. */
  notified(payload: string): void;
  /** The connection was replaced: notifications may have been missed meanwhile. */
  reconnected(): void;
}

/** One subscriber's hold on a channel. */
export interface Subscription {
  /** Resolves once the server listens on the channel (rejects when it could not be asked). */
  readonly ready: Promise<void>;
  /** Leaves the channel (the server stops listening once nobody here does). */
  close(): void;
}

interface Channel {
  readonly marker: bigint | undefined;
  readonly subscribers: Set<ChannelEvents>;
}

/** How long the connection stays once nothing is listened to, for the next subscriber. */
const IDLE_KEEP_MS = 2_000;
/** Silence after which the connection is pinged. */
const PING_MS = 5_000;

/** The listening connection of one coordinator. */
export class Listener {
  readonly #pool: pg.Pool;
  readonly #timeoutMs: number;
  readonly #channels = new Map<string, Channel>();
  readonly #retry = new Backoff(50, 2_000);
  #client: pg.PoolClient | undefined;
  /** Removes our listeners from the current connection's client (a pool client outlives our use). */
  #detach = () => {};
  /** The channels the current connection listens on. */
  #listening = new Set<string>();
  // Statements go out one at a time, in order: a LISTEN and the UNLISTEN after it must not swap.
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #reconnecting: NodeJS.Timeout | undefined;
  #connectedBefore = false;
  #closed = false;

  /** @param timeoutMs longest wait for the pool and for each statement */
  constructor(pool: pg.Pool, timeoutMs: number) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
  }

  /** Subscribes to `channel`, holding `marker` shared while the channel is listened to. */
  subscribe(channel: string, marker: bigint | undefined, events: ChannelEvents): Subscription {
    let entry = this.#channels.get(channel);
    if (!entry) {
      entry = { marker, subscribers: new Set() };
      this.#channels.set(channel, entry);
    }
    entry.subscribers.add(events);
    const ready = this.#run((client) => this.#listen(client, [channel]));
    this.#rearm();
    const joined = entry;
    return {
      ready,
      close: () => {
        if (!joined.subscribers.delete(events) || joined.subscribers.size > 0) return;
        if (this.#channels.get(channel) === joined) this.#channels.delete(channel);
        this.#run((client) => this.#unlisten(client, channel, joined.marker)).catch(() => {});
        this.#rearm();
      },
    };
  }

  /** Gives the connection back (nothing listened to any more). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#reconnecting);
    this.#channels.clear();
    await this.#queue;
    await this.#giveBack();
  }

  #run<T>(op: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const next = this.#queue.then(async () => {
      if (this.#closed) throw new BackendUnavailableError('postgres', 'the coordinator was closed');
      const client = await this.#connected();
      const silence = () =>
        new BackendUnavailableError(
          'postgres',
          `the listening connection did not answer within ${this.#timeoutMs} ms`,
        );
      try {
        return await withTimeout(op(client), this.#timeoutMs, silence);
      } catch (error) {
        if (error instanceof BackendUnavailableError || isSessionFatal(error)) this.#drop(client, error);
        throw error;
      }
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  async #connected(): Promise<pg.PoolClient> {
    if (this.#client) return this.#client;
    let client: pg.PoolClient;
    try {
      const silence = () =>
        new BackendUnavailableError('postgres', `no connection for listening within ${this.#timeoutMs} ms`);
      client = await withTimeout(this.#pool.connect(), this.#timeoutMs, silence);
    } catch (error) {
      this.#reconnectLater();
      throw error;
    }
    const gone = (cause: unknown) => this.#drop(client, cause);
    const ended = () => gone(new Error('connection ended'));
    client.on('notification', this.#onNotification);
    client.on('error', gone);
    client.on('end', ended);
    this.#detach = () => {
      client.off('notification', this.#onNotification);
      client.off('error', gone);
      client.off('end', ended);
    };
    this.#client = client;
    this.#listening = new Set();
    try {
      await withTimeout(
        this.#listen(client, [...this.#channels.keys()]),
        this.#timeoutMs,
        () => new BackendUnavailableError('postgres', 'LISTEN timed out'),
      );
    } catch (error) {
      this.#drop(client, error);
      throw error;
    }
    this.#retry.reset();
    if (this.#connectedBefore) {
      for (const entry of [...this.#channels.values()])
        for (const subscriber of [...entry.subscribers]) subscriber.reconnected();
    }
    this.#connectedBefore = true;
    return client;
  }

  readonly #onNotification = (message: pg.Notification) => {
    const entry = this.#channels.get(message.channel);
    for (const subscriber of [...(entry?.subscribers ?? [])]) subscriber.notified(message.payload ?? '');
  };

  // One round trip for any number of channels: a simple query may hold many statements.
  async #listen(client: pg.PoolClient, channels: readonly string[]): Promise<void> {
    const fresh = channels.filter((c) => this.#channels.has(c) && !this.#listening.has(c));
    if (fresh.length === 0) return;
    const marker = (c: string) => this.#channels.get(c)?.marker;
    await client.query(
      fresh
        .map(
          (c) =>
            `LISTEN ${c};${marker(c) === undefined ? '' : ` SELECT pg_advisory_lock_shared(${marker(c)});`}`,
        )
        .join(' '),
    );
    for (const c of fresh) this.#listening.add(c);
  }

  async #unlisten(client: pg.PoolClient, channel: string, marker: bigint | undefined): Promise<void> {
    // Subscribed to again meanwhile: it stays.
    if (this.#channels.has(channel) || !this.#listening.has(channel)) return;
    this.#listening.delete(channel);
    await client.query(
      `UNLISTEN ${channel};${marker === undefined ? '' : ` SELECT pg_advisory_unlock_shared(${marker});`}`,
    );
  }

  /** While channels are listened to, a ping every few seconds; else, retirement after a while. */
  #rearm(): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    if (this.#channels.size > 0) {
      this.#timer = setTimeout(() => {
        this.#run((client) => client.query('SELECT 1')).then(
          () => this.#rearm(),
          () => {},
        );
      }, PING_MS).unref();
    } else if (this.#client) {
      this.#timer = setTimeout(() => {
        if (this.#channels.size === 0) this.#queue = this.#queue.then(() => this.#giveBack());
      }, IDLE_KEEP_MS).unref();
    }
  }

  /** Forgets a connection that failed; with channels left, a new one is opened after a backoff. */
  #drop(client: pg.PoolClient, cause: unknown): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#detach();
    client.release(cause instanceof Error ? cause : new Error(String(cause)));
    this.#reconnectLater();
  }

  #reconnectLater(): void {
    if (this.#closed || this.#channels.size === 0 || this.#reconnecting) return;
    this.#reconnecting = setTimeout(() => {
      this.#reconnecting = undefined;
      this.#run(async () => {}).then(
        () => this.#rearm(),
        () => {},
      );
    }, this.#retry.next()).unref();
  }

  /** Stops listening and gives the connection back to the pool (destroys it when that fails). */
  async #giveBack(): Promise<void> {
    const client = this.#client;
    if (!client || this.#channels.size > 0) return;
    this.#client = undefined;
    this.#detach();
    // Checked out, a pool client with no 'error' listener would take the process down.
    const swallow = () => {};
    client.on('error', swallow);
    try {
      await withTimeout(
        client.query('UNLISTEN *; SELECT pg_advisory_unlock_all()'),
        this.#timeoutMs,
        () => new BackendUnavailableError('postgres', 'resetting the listening connection timed out'),
      );
      client.release();
    } catch (error) {
      client.release(error instanceof Error ? error : new Error(String(error)));
    } finally {
      client.off('error', swallow);
    }
  }
}
