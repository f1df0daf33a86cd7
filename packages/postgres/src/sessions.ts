/**
 * The connections a coordinator pins for locks, out of one `pg.Pool`:
 *
 * - ONE primary session, opened on first use and kept until `close()`. Every try-lock runs on
 *   it and the locks it wins stay on it, so holding many locks at once costs one connection.
 * - Up to `maxWaitingSessions` waiting sessions, each blocked in PostgreSQL's lock queue for
 *   one key (and then holding the lock it won, until released). They go back to the pool as
 *   soon as they have held nothing for a couple of seconds (kept meanwhile for the next wait).
 *   A waiter finding every slot taken re-tries on the primary with backoff until a slot frees —
 *   the bound on pinned connections is never exceeded.
 *
 * Each fresh connection is probed once (backend pid, server version, idle timeout); a backend
 * pid that differs from the one the connection announced means a pooler sits in between.
 * @module
 */
import { BackendUnavailableError, sleep } from '@lockstep/core';
import type pg from 'pg';
import { isSessionFatal, NoConnectionInTimeError, poolerError, toLockstepError } from './errors.js';
import { LockSession, type SessionInfo } from './session.js';
import { cancelBackend, LockSql, SESSION_PROBE } from './sql.js';

/** How long a waiting session that holds nothing stays pinned for the next wait. */
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

/** The primary and waiting sessions of one coordinator. */
export class SessionSet {
  readonly #options: SessionSetOptions;
  // Probe results per pooled connection: a connection handed out again needs no second probe.
  readonly #probed = new WeakMap<pg.PoolClient, SessionInfo>();
  readonly #waiting = new Set<LockSession>();
  /** Waiting sessions that hold nothing, kept for the next wait (most recent last). */
  readonly #idle: LockSession[] = [];
  readonly #idleSince = new WeakMap<LockSession, number>();
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #slotFreed = new Set<() => void>();
  readonly #givingBack = new Set<Promise<void>>();
  #primary: Promise<LockSession> | undefined;
  #primarySession: LockSession | undefined;
  #slotsTaken = 0;
  #sql: LockSql | undefined;
  #closed = false;

  constructor(options: SessionSetOptions) {
    this.#options = options;
  }

  /** The lock statements; known once the first session has told us the server's version. */
  get sql(): LockSql {
    if (!this.#sql) throw new Error('no lock session was opened yet');
    return this.#sql;
  }

  /** Pinned waiting sessions right now (for tests and diagnostics). */
  get waitingSessions(): number {
    return this.#waiting.size;
  }

  /**
   * The primary session, opened on first use and re-opened after it died. Opening waits for a
   * connection up to `commandTimeoutMs`, or `connectWithinMs` when given (`connect()` does).
   */
  primary(connectWithinMs?: number): Promise<LockSession> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#primarySession?.dead) this.#primary = undefined;
    if (!this.#primary) {
      const opening = this.#open('primary', undefined, connectWithinMs);
      this.#primary = opening;
      opening.then(
        (session) => {
          this.#primarySession = session;
        },
        () => {
          if (this.#primary === opening) this.#primary = undefined;
        },
      );
    }
    return this.#primary;
  }

  /** Takes one of the `maxWaitingSessions` slots; false when all are taken. */
  reserveWaitingSlot(): boolean {
    // Idle sessions sit in free slots; reserving one reuses them (openWaiting).
    if (this.#closed || this.#slotsTaken >= this.#options.maxWaitingSessions) return false;
    this.#slotsTaken++;
    return true;
  }

  /** Gives back a slot whose session was never opened. */
  releaseSlot(): void {
    this.#slotsTaken--;
    for (const wake of [...this.#slotFreed]) wake();
  }

  /** Resolves when a slot frees, after `ms`, or when `signal` aborts. */
  slotFreed(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#slotFreed.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#slotFreed.add(done);
      signal.addEventListener('abort', done, { once: true });
      void sleep(ms, signal).then(done);
    });
  }

  /**
   * Opens a waiting session in a slot already reserved; `undefined` when the pool has no
   * connection to spare within the command timeout. On failure (or abort) the slot is given back.
   */
  async openWaiting(signal: AbortSignal): Promise<LockSession | undefined> {
    const reused = this.#idle.pop();
    if (reused) {
      this.#waiting.add(reused);
      return reused;
    }
    try {
      const session = await this.#open('waiting', signal);
      this.#waiting.add(session);
      return session;
    } catch (error) {
      this.releaseSlot();
      // No connection in time: the caller waits the other way (backoff) instead.
      if (error instanceof NoConnectionInTimeError) return undefined;
      throw error;
    }
  }

  /** A waiting session that holds nothing any more goes back to the pool (in the background). */
  finishWaiting(session: LockSession): void {
    if (session.size > 0 || !this.#waiting.delete(session)) return;
    this.releaseSlot();
    if (this.#closed || session.dead) {
      this.#giveBack(session);
      return;
    }
    // Kept pinned a little while: the next wait (a worker loop takes the lock again at once)
    // skips the pool, the probe and the reset. Slots still bound pinned sessions: active
    // waiting sessions plus idle ones never exceed maxWaitingSessions.
    this.#idle.push(session);
    this.#idleSince.set(session, performance.now());
    this.#armIdleTimer();
  }

  #giveBack(session: LockSession): void {
    const giving = session.giveBack().finally(() => this.#givingBack.delete(giving));
    this.#givingBack.add(giving);
  }

  #armIdleTimer(): void {
    if (this.#idleTimer !== undefined || this.#idle.length === 0) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      const cutoff = performance.now() - IDLE_WAITING_KEEP_MS;
      for (const session of [...this.#idle]) {
        if ((this.#idleSince.get(session) ?? 0) > cutoff) continue;
        this.#idle.splice(this.#idle.indexOf(session), 1);
        this.#giveBack(session);
      }
      this.#armIdleTimer();
    }, IDLE_WAITING_KEEP_MS);
    this.#idleTimer.unref();
  }

  /**
   * Interrupts the statement of a waiting session (`pg_cancel_backend`, sent on the primary).
   * Resolves once the server has signalled the backend; never rejects.
   */
  async cancel(pid: number): Promise<void> {
    try {
      const primary = await this.primary();
      await primary.run(cancelBackend(pid));
    } catch {
      // The primary is gone: so is the server or our connection to it, and the waiting session
      // with it. The caller's clean-up copes with either outcome of the wait.
    }
  }

  /** Gives every session back (the coordinator released every lock before), idempotently. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const primary = this.#primary?.catch(() => undefined);
    const sessions = [...this.#waiting, ...this.#idle.splice(0)];
    const primarySession = await primary;
    if (primarySession) sessions.push(primarySession);
    await Promise.allSettled(sessions.map((s) => s.giveBack()));
    await Promise.allSettled([...this.#givingBack]);
  }

  async #open(
    role: 'primary' | 'waiting',
    signal?: AbortSignal,
    connectWithinMs?: number,
  ): Promise<LockSession> {
    // A waiter that cannot have a connection soon waits by backoff instead (see openWaiting).
    const timeoutMs =
      connectWithinMs ??
      (role === 'primary'
        ? this.#options.commandTimeoutMs
        : Math.min(this.#options.commandTimeoutMs, WAITING_CONNECT_MS));
    const client = await this.#connect(timeoutMs, signal);
    let info: SessionInfo;
    try {
      info = await this.#probe(client);
    } catch (error) {
      client.release(isSessionFatal(error) ? (error as Error) : undefined);
      throw error;
    }
    if (this.#closed || signal?.aborted) {
      client.release();
      throw this.#closed ? closedError() : signal?.reason;
    }
    this.#sql ??= new LockSql(
      this.#options.schema,
      this.#options.idleSessionTimeout && info.version >= IDLE_SESSION_TIMEOUT_VERSION,
    );
    return new LockSession(client, info, {
      sql: this.#sql,
      commandTimeoutMs: this.#options.commandTimeoutMs,
      checkPid: this.#options.allowSessionPooler,
      onDeath: (session) => this.#onDeath(session, role),
      onExpiredGivenBack: (session) => {
        if (role === 'waiting') this.finishWaiting(session);
      },
    });
  }

  #onDeath(session: LockSession, role: 'primary' | 'waiting'): void {
    if (role === 'primary') {
      if (this.#primarySession === session) {
        this.#primarySession = undefined;
        this.#primary = undefined;
      }
      return;
    }
    if (this.#waiting.delete(session)) this.releaseSlot();
    const idle = this.#idle.indexOf(session);
    if (idle >= 0) this.#idle.splice(idle, 1);
  }

  // A connection from the pool, within the command timeout: a pool the application keeps busy
  // (or one smaller than lockstep needs) must not stall a lock call forever. An abort does not
  // wait either; a connection that arrives after we gave up goes straight back.
  #connect(timeoutMs: number, signal?: AbortSignal): Promise<pg.PoolClient> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { pool } = this.#options;
    // Whether we queue behind the application's own use of the pool, or the pool opens a new
    // connection for us (and a timeout then means the server did not answer it).
    const poolFull = pool.idleCount === 0 && pool.totalCount >= (pool.options.max ?? DEFAULT_POOL_MAX);
    const connecting = pool.connect();
    return new Promise<pg.PoolClient>((resolve, reject) => {
      let done = false;
      const finish = (outcome: () => void) => {
        if (done) return false;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        outcome();
        return true;
      };
      // A connection that arrives after we gave up is returned by the handler below (once).
      const giveUp = (error: unknown) => finish(() => reject(error));
      const onAbort = () => giveUp(signal?.reason);
      const timer = setTimeout(() => giveUp(new NoConnectionInTimeError(timeoutMs, poolFull)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      connecting.then(
        (client) => {
          if (!finish(() => resolve(client))) client.release();
        },
        (error: unknown) => finish(() => reject(toLockstepError(error, 'connecting'))),
      );
    });
  }

  async #probe(client: pg.PoolClient): Promise<SessionInfo> {
    const known = this.#probed.get(client);
    if (known) return known;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BackendUnavailableError(
              'postgres',
              `a new connection did not answer within ${this.#options.commandTimeoutMs} ms`,
            ),
          ),
        this.#options.commandTimeoutMs,
      );
    });
    let row: { pid: number; version: number; idle_timeout: string | null };
    try {
      const result = await Promise.race([
        client.query({ name: SESSION_PROBE.name, text: SESSION_PROBE.text, values: [] }),
        timeout,
      ]);
      row = result.rows[0];
    } catch (error) {
      throw toLockstepError(error, 'probing a new connection');
    } finally {
      clearTimeout(timer);
    }
    // A direct connection announces its backend's pid in BackendKeyData; a pooler announces
    // one of its own.
    const announced = (client as unknown as { processID?: number | null }).processID;
    if (announced != null && announced !== row.pid && !this.#options.allowSessionPooler) {
      throw poolerError(`the connection announced backend ${announced} but runs on backend ${row.pid}`);
    }
    const info: SessionInfo = { pid: row.pid, version: row.version, idleTimeout: row.idle_timeout };
    this.#probed.set(client, info);
    return info;
  }
}

/** pg.Pool's own default size. */
const DEFAULT_POOL_MAX = 10;

function closedError(): BackendUnavailableError {
  return new BackendUnavailableError('postgres', 'the coordinator was closed');
}
