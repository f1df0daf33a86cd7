/**
 * The connections a coordinator pins for locks, out of one `pg.Pool`:
 *
 * - ONE primary, opened on first use and kept until `close()`. Every try-lock runs on it and the
 *   locks it wins stay there, so holding many locks costs one connection. Its sessions (one per
 *   TTL in use) come from core's `SessionPool`: replaced after a loss, retired when idle.
 * - Up to `maxWaitingSessions` waiting connections, each blocked in PostgreSQL's lock queue for
 *   one key, then holding the lock it won until released. One that holds nothing is kept a
 *   couple of seconds for the next wait, then goes back to the pool. A waiter finding every slot
 *   taken re-tries on the primary with backoff: the bound on pinned connections always holds.
 *
 * Each fresh connection is probed once (backend pid, server version, idle timeout); a backend pid
 * that differs from the one the connection announced means a pooler sits in between.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { abortPromise, backendFailure, SessionPool, sleep, withTimeout } from '@lockstep/core/driver';
import type pg from 'pg';
import { isSessionFatal, NoConnectionInTimeError, poolerError } from './errors.js';
import { LockConnection, type LockSession, type SessionInfo } from './session.js';
import { cancelBackend, LockSql, SESSION_PROBE } from './sql.js';

/** How long a waiting connection that holds nothing stays pinned for the next wait. */
const IDLE_WAITING_KEEP_MS = 2_000;
/** How long a waiter waits for a pool connection before it waits by backoff instead. */
const WAITING_CONNECT_MS = 250;
/** First PostgreSQL version with `idle_session_timeout`. */
const IDLE_SESSION_TIMEOUT_VERSION = 140_000;

/** Options of a {@link SessionSet}. */
export interface SessionSetOptions {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly idleSessionTimeout: boolean;
  readonly maxWaitingSessions: number;
  readonly commandTimeoutMs: number;
  readonly allowSessionPooler: boolean;
}

/** The primary and waiting connections of one coordinator. */
export class SessionSet {
  readonly #options: SessionSetOptions;
  // Probe results per pooled connection: a connection handed out again needs no second probe.
  readonly #probed = new WeakMap<pg.PoolClient, SessionInfo>();
  readonly #sessions = new SessionPool<LockSession>({
    create: async (ttlMs) => (await this.primary()).session(ttlMs),
  });
  readonly #waiting = new Set<LockConnection>();
  /** Waiting connections that hold nothing, kept for the next wait, with their retirement timers. */
  readonly #idle = new Map<LockConnection, NodeJS.Timeout>();
  readonly #slotWakes = new Set<() => void>();
  readonly #givingBack = new Set<Promise<void>>();
  #primary: Promise<LockConnection> | undefined;
  #primaryConnection: LockConnection | undefined;
  #slotsTaken = 0;
  #sql: LockSql | undefined;
  #closed = false;

  constructor(options: SessionSetOptions) {
    this.#options = options;
  }

  /** The pool the connections come from (also serves statements that need no pinned session). */
  get pool(): pg.Pool {
    return this.#options.pool;
  }

  /** Longest wait for the reply to a statement that does not block. */
  get commandTimeoutMs(): number {
    return this.#options.commandTimeoutMs;
  }

  /** The lock statements; known once the first connection has told us the server's version. */
  get sql(): LockSql {
    if (!this.#sql) throw new Error('no lock session was opened yet');
    return this.#sql;
  }

  /** The primary's session for locks of `ttlMs`: synchronously when it is live (the hot path). */
  session(ttlMs: number): LockSession | Promise<LockSession> {
    return this.#sessions.current(ttlMs) ?? this.#sessions.session(ttlMs);
  }

  /**
   * The primary connection, opened on first use and after it died. Opening waits for a pool
   * connection up to `commandTimeoutMs`, or `connectWithinMs` when given (`connect()` does).
   */
  primary(connectWithinMs?: number): Promise<LockConnection> {
    if (this.#closed) return Promise.reject(closedError());
    if (!this.#primary) {
      const opening = this.#open(false, undefined, connectWithinMs);
      this.#primary = opening;
      opening.catch(() => {
        if (this.#primary === opening) this.#primary = undefined;
      });
    }
    return this.#primary;
  }

  /**
   * A waiting connection in one of the `maxWaitingSessions` slots (an idle one, or a new one);
   * `undefined` when every slot is taken or the pool has no connection to spare soon.
   */
  async openWaiting(signal: AbortSignal): Promise<LockConnection | undefined> {
    if (this.#closed || this.#slotsTaken >= this.#options.maxWaitingSessions) return undefined;
    this.#slotsTaken++;
    const [reused] = this.#idle.keys();
    try {
      const connection = reused ?? (await this.#open(true, signal));
      clearTimeout(this.#idle.get(connection));
      this.#idle.delete(connection);
      this.#waiting.add(connection);
      return connection;
    } catch (error) {
      this.#releaseSlot();
      // No connection in time: the caller waits the other way (backoff) instead.
      if (error instanceof NoConnectionInTimeError) return undefined;
      throw error;
    }
  }

  /** Resolves when a waiting slot frees, after `ms`, or when `signal` aborts. */
  async slotFreed(ms: number, signal: AbortSignal): Promise<void> {
    let wake = () => {};
    const freed = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#slotWakes.add(wake);
    await Promise.race([freed, sleep(ms, signal)]);
    this.#slotWakes.delete(wake);
  }

  /** A waiting connection that holds nothing any more is kept for the next wait, then given back. */
  finishWaiting(connection: LockConnection): void {
    if (connection.size > 0 || !this.#waiting.delete(connection)) return;
    this.#releaseSlot();
    // The next wait (a worker loop takes the lock again at once) skips the pool, the probe and
    // the reset. Idle connections sit in free slots: pinned ones never exceed the maximum.
    const retire = () => {
      this.#idle.delete(connection);
      this.#giveBack(connection);
    };
    if (this.#closed || connection.ended) retire();
    else this.#idle.set(connection, setTimeout(retire, IDLE_WAITING_KEEP_MS).unref());
  }

  /** Interrupts the statement of a waiting connection (sent on the primary); never rejects. */
  async cancel(pid: number): Promise<void> {
    try {
      await (await this.primary()).run(cancelBackend(pid));
    } catch {
      // The primary is gone, so is the server or our way to it, and the waiting connection with
      // it: the waiter's clean-up copes with either outcome of its wait.
    }
  }

  /** Gives every connection back (the coordinator released every lock before), idempotently. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sessions.close();
    for (const timer of this.#idle.values()) clearTimeout(timer);
    const connections = [...this.#waiting, ...this.#idle.keys()];
    const primary = await this.#primary?.catch(() => undefined);
    if (primary) connections.push(primary);
    await Promise.allSettled([...connections.map((c) => c.giveBack()), ...this.#givingBack]);
  }

  #releaseSlot(): void {
    this.#slotsTaken--;
    for (const wake of this.#slotWakes) wake();
  }

  #giveBack(connection: LockConnection): void {
    const giving = connection.giveBack().finally(() => this.#givingBack.delete(giving));
    this.#givingBack.add(giving);
  }

  async #open(waiting: boolean, signal?: AbortSignal, connectWithinMs?: number): Promise<LockConnection> {
    const { commandTimeoutMs } = this.#options;
    const timeoutMs =
      connectWithinMs ?? (waiting ? Math.min(commandTimeoutMs, WAITING_CONNECT_MS) : commandTimeoutMs);
    const client = await this.#connect(timeoutMs, signal);
    let info: SessionInfo;
    try {
      info = await this.#probe(client);
      if (this.#closed) throw closedError();
      signal?.throwIfAborted();
    } catch (error) {
      client.release(isSessionFatal(error) && !signal?.aborted ? (error as Error) : undefined);
      throw error;
    }
    this.#sql ??= new LockSql(
      this.#options.schema,
      this.#options.idleSessionTimeout && info.version >= IDLE_SESSION_TIMEOUT_VERSION,
    );
    const connection: LockConnection = new LockConnection(client, info, {
      sql: this.#sql,
      commandTimeoutMs,
      checkPid: this.#options.allowSessionPooler,
      onEnd: () => {
        if (connection === this.#primaryConnection) this.#primary = undefined;
        if (this.#waiting.delete(connection)) this.#releaseSlot();
        clearTimeout(this.#idle.get(connection));
        this.#idle.delete(connection);
      },
      onEmpty: waiting ? () => this.finishWaiting(connection) : undefined,
    });
    if (!waiting) this.#primaryConnection = connection;
    return connection;
  }

  // A connection from the pool within the timeout: a pool the application keeps busy (or one
  // smaller than lockstep needs) must not stall a lock call forever. An abort does not wait
  // either; a connection that arrives after we gave up goes straight back.
  #connect(timeoutMs: number, signal?: AbortSignal): Promise<pg.PoolClient> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { pool } = this.#options;
    // Whether we queue behind the application's own use of the pool, or the pool opens a new
    // connection for us (and a timeout then means the server did not answer it).
    const poolFull = pool.idleCount === 0 && pool.totalCount >= (pool.options.max ?? 10);
    const connecting = pool.connect().catch((error: unknown) => {
      throw backendFailure('postgres', 'connecting', error);
    });
    const aborted = signal && abortPromise(signal);
    const bounded = withTimeout(
      connecting,
      timeoutMs,
      () => new NoConnectionInTimeError(timeoutMs, poolFull),
    );
    return (aborted ? Promise.race([bounded, aborted.promise]) : bounded).then(
      (client) => {
        aborted?.dispose();
        return client;
      },
      (error: unknown) => {
        aborted?.dispose();
        connecting.then(
          (late) => late.release(),
          () => {},
        );
        throw error;
      },
    );
  }

  async #probe(client: pg.PoolClient): Promise<SessionInfo> {
    const known = this.#probed.get(client);
    if (known) return known;
    const ms = this.#options.commandTimeoutMs;
    const silent = () =>
      new BackendUnavailableError('postgres', `a new connection did not answer within ${ms} ms`);
    let row: { pid: number; version: number; idle_timeout: string | null };
    try {
      row = (await withTimeout(client.query(SESSION_PROBE), ms, silent)).rows[0];
    } catch (error) {
      throw backendFailure('postgres', 'probing a new connection', error);
    }
    // A direct connection announces its backend's pid in BackendKeyData; a pooler one of its own.
    const announced = (client as unknown as { processID?: number | null }).processID;
    if (announced != null && announced !== row.pid && !this.#options.allowSessionPooler) {
      throw poolerError(`the connection announced backend ${announced} but runs on backend ${row.pid}`);
    }
    const info: SessionInfo = { pid: row.pid, version: row.version, idleTimeout: row.idle_timeout };
    this.#probed.set(client, info);
    return info;
  }
}

function closedError(): BackendUnavailableError {
  return new BackendUnavailableError('postgres', 'the coordinator was closed');
}
