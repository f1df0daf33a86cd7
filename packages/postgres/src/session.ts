/**
 * A lock session: one connection pinned out of the pool, on which session-level advisory
 * locks are taken and released. Everything about a lock happens on the connection that holds
 * it — never through `pool.query()`, where an unlock could land on another backend and leak
 * the lock.
 *
 * The session knows which locks it holds (so a second local acquire of a held key is refused
 * here instead of being stacked by PostgreSQL's re-entrant advisory locks), keeps the server's
 * `idle_session_timeout` at the shortest TTL it holds, and sends a keepalive when nothing else
 * ran for a third of it. It dies — once — when its connection ends, errors, stops answering
 * within the command timeout, or turns out to be multiplexed by a pooler; dying aborts the
 * `lost` signal of every lock it held.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import type pg from 'pg';
import { isSessionFatal, poolerError, toLockstepError } from './errors.js';
import type { LockPlacement } from './keys.js';
import type { LockSql, Statement } from './sql.js';

/** What the probe of a fresh connection found. */
export interface SessionInfo {
  /** The backend's pid (`pg_backend_pid()`). */
  readonly pid: number;
  /** `server_version_num`, e.g. 150004. */
  readonly version: number;
  /** The session's `idle_session_timeout` before we touched it (`null` before PostgreSQL 14). */
  readonly idleTimeout: string | null;
}

/** One lock held (or being taken) on a session. */
export interface SessionLock {
  readonly ownerId: string;
  readonly placement: LockPlacement;
  /** The lease length this lock asks the session's idle timeout to honour. */
  ttlMs: number;
  /** Aborted when the session dies while the lock is on it. */
  readonly lost: AbortController;
  /** `pending` while the statement that takes it is in flight. */
  state: 'pending' | 'held';
}

/** Options of a {@link LockSession}. */
export interface SessionOptions {
  readonly sql: LockSql;
  /** Longest wait for a reply to a non-blocking statement. */
  readonly commandTimeoutMs: number;
  /** Check that every lock statement runs on the backend probed at the start. */
  readonly checkPid: boolean;
  /** Called once when the session dies. */
  readonly onDeath: (session: LockSession) => void;
}

/** A statement waiting for its reply. */
interface Pending {
  readonly reject: (error: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Statement options. */
interface RunOptions {
  /** `false`: no client-side timeout (blocking waits, which are cancelled instead). */
  readonly timeout?: boolean;
}

/** A pinned connection holding advisory locks. */
export class LockSession {
  readonly client: pg.PoolClient;
  readonly info: SessionInfo;
  readonly #options: SessionOptions;
  readonly #locks = new Map<string, SessionLock>();
  readonly #died = new AbortController();
  #lastSentAt = performance.now();
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #keepaliveInterval = Number.POSITIVE_INFINITY;
  #heldCheck: Promise<Set<string>> | undefined;
  readonly #pending = new Set<Pending>();
  #returned = false;
  readonly #onError = (error: unknown) => this.#ended(error);
  readonly #onEnd = () => this.#ended(new Error('connection ended'));

  constructor(client: pg.PoolClient, info: SessionInfo, options: SessionOptions) {
    this.client = client;
    this.info = info;
    this.#options = options;
    // A checked-out pool client has no error listener: without ours, a dropped connection
    // would crash the process.
    client.on('error', this.#onError);
    client.on('end', this.#onEnd);
  }

  /** The backend pid. */
  get pid(): number {
    return this.info.pid;
  }

  /** Whether the connection is gone (every lock on it is lost). */
  get dead(): boolean {
    return this.#died.signal.aborted;
  }

  /** Aborted when the session dies; the reason says why. */
  get died(): AbortSignal {
    return this.#died.signal;
  }

  /** How many locks are held or being taken here. */
  get size(): number {
    return this.#locks.size;
  }

  /** The lock on `id`, if this session holds (or is taking) it. */
  lockOn(id: string): SessionLock | undefined {
    return this.#locks.get(id);
  }

  /**
   * Claims `id` before the statement that takes it is sent, so a concurrent local attempt on the
   * same key cannot stack a second hold on this session. `undefined` when already claimed.
   */
  claim(ownerId: string, placement: LockPlacement, ttlMs: number): SessionLock | undefined {
    if (this.dead || this.#locks.has(placement.id)) return undefined;
    const lock: SessionLock = { ownerId, placement, ttlMs, lost: new AbortController(), state: 'pending' };
    this.#locks.set(placement.id, lock);
    return lock;
  }

  /** Forgets a claim or a released lock. */
  forget(lock: SessionLock): void {
    if (this.#locks.get(lock.placement.id) === lock) this.#locks.delete(lock.placement.id);
    this.#armKeepalive();
  }

  /** Marks a claimed lock held. */
  hold(lock: SessionLock): void {
    lock.state = 'held';
    this.#armKeepalive();
  }

  /**
   * The `idle_session_timeout` the session should have: the shortest TTL among its locks
   * (plus `extraTtlMs`, a lock being taken), or its original setting when it holds none.
   */
  idleTimeout(extraTtlMs?: number): string {
    let min = extraTtlMs ?? Number.POSITIVE_INFINITY;
    for (const lock of this.#locks.values()) min = Math.min(min, lock.ttlMs);
    if (min === Number.POSITIVE_INFINITY) return this.info.idleTimeout ?? '0';
    return String(Math.ceil(min));
  }

  /**
   * Runs one statement on this connection. A reply that does not come within the command
   * timeout kills the session; so does a connection-level failure. Server errors of the
   * statement are returned as is (the session stays usable).
   */
  run(stmt: Statement, options: RunOptions = {}): Promise<pg.QueryResult> {
    if (this.dead) return Promise.reject(this.#died.signal.reason);
    this.#lastSentAt = performance.now();
    // The hot path of every lock operation: one promise, one timer, pg's callback form (its
    // promise form adds two more promises per statement).
    return new Promise<pg.QueryResult>((resolve, reject) => {
      const pending: Pending = { reject, timer: undefined };
      if (options.timeout !== false) {
        const ms = this.#commandTimeoutMs();
        pending.timer = setTimeout(() => {
          this.die(
            new BackendUnavailableError(
              'postgres',
              `no reply from the lock session within ${Math.round(ms)} ms`,
            ),
          );
        }, ms);
      }
      this.#pending.add(pending);
      this.client.query(stmt, (error: Error | null, result: pg.QueryResult) => {
        if (!this.#pending.delete(pending)) return; // the session died first and rejected it
        clearTimeout(pending.timer);
        if (error) {
          if (isSessionFatal(error)) this.die(toLockstepError(error, 'the lock session'));
          reject(error);
        } else {
          resolve(result);
        }
      });
    });
  }

  /**
   * Refuses the session when a statement ran on another backend than the one probed: the
   * connection goes through a pooler that moves it between backends.
   */
  checkPid(pid: unknown): void {
    if (!this.#options.checkPid || pid === this.info.pid) return;
    const error = poolerError(`a lock statement ran on backend ${String(pid)}, not on ${this.info.pid}`);
    this.die(error);
    throw error;
  }

  /**
   * The advisory locks this session holds according to `pg_locks` (as
   * `classid/objid/objsubid`). Concurrent callers share one query.
   */
  heldInServer(): Promise<Set<string>> {
    this.#heldCheck ??= this.run(this.#options.sql.held(this.idleTimeout()))
      .then((result) => {
        const row = result.rows[0] as { pid: number; held: string[] };
        this.checkPid(row.pid);
        return new Set(row.held);
      })
      .finally(() => {
        this.#heldCheck = undefined;
      });
    return this.#heldCheck;
  }

  /**
   * Ends the session: every lock on it is reported lost, the connection is destroyed (the
   * server frees its locks when it sees the connection close). Idempotent.
   */
  die(reason: Error): void {
    if (this.dead) return;
    this.#died.abort(reason);
    clearTimeout(this.#keepaliveTimer);
    for (const lock of this.#locks.values()) lock.lost.abort(reason);
    this.#locks.clear();
    for (const pending of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(reason);
    }
    this.#pending.clear();
    this.#destroy(reason);
    this.#options.onDeath(this);
  }

  /**
   * Gives a session that holds nothing back to the pool, after dropping any advisory lock the
   * server may still have on it and restoring its idle timeout (a failure destroys it instead).
   */
  async giveBack(): Promise<void> {
    if (this.dead || this.#returned) return;
    clearTimeout(this.#keepaliveTimer);
    try {
      await this.run(this.#options.sql.reset(this.info.idleTimeout));
    } catch (error) {
      this.die(toLockstepError(error, 'resetting a lock session'));
      return;
    }
    if (this.dead || this.#returned) return;
    this.#returned = true;
    this.#died.abort(new BackendUnavailableError('postgres', 'the lock session was returned to the pool'));
    this.#options.onDeath(this);
    this.#unlisten();
    this.client.release();
  }

  #commandTimeoutMs(): number {
    let ms = this.#options.commandTimeoutMs;
    for (const lock of this.#locks.values()) if (lock.state === 'held') ms = Math.min(ms, lock.ttlMs);
    return ms;
  }

  #ended(cause: unknown): void {
    this.die(new BackendUnavailableError('postgres', 'the lock session ended', { cause }));
  }

  #unlisten(): void {
    this.client.off('error', this.#onError);
    this.client.off('end', this.#onEnd);
    // Called right before client.release(), which puts pg-pool's own error listener back.
  }

  #destroy(reason: Error): void {
    if (this.#returned) return;
    this.#returned = true;
    this.#unlisten();
    try {
      this.client.release(reason);
    } catch {
      // Already released: nothing to give back.
    }
    // end() waits for the server's goodbye, which a paused server never sends: cut the socket.
    (
      this.client as unknown as { connection?: { stream?: { destroy?: () => void } } }
    ).connection?.stream?.destroy?.();
  }

  // The server ends a session that stays idle for its idle timeout. Locks whose handles renew
  // (core's health check at ttl/3) keep it busy anyway; this covers pure leases and the gap
  // between renewals of locks with longer TTLs than the shortest. One timer per session, armed
  // while it holds locks; statements only move `#lastSentAt`, they do not touch the timer.
  #armKeepalive(): void {
    if (this.dead || this.#locks.size === 0 || !this.#options.sql.timeouts) {
      clearTimeout(this.#keepaliveTimer);
      this.#keepaliveTimer = undefined;
      return;
    }
    const interval = Number(this.idleTimeout()) / 3;
    if (this.#keepaliveTimer !== undefined) {
      if (interval >= this.#keepaliveInterval) return;
      clearTimeout(this.#keepaliveTimer); // a shorter TTL arrived: check sooner
    }
    this.#keepaliveInterval = interval;
    const due = this.#lastSentAt + interval - performance.now();
    this.#keepaliveTimer = setTimeout(
      () => {
        this.#keepaliveTimer = undefined;
        const idleFor = performance.now() - this.#lastSentAt;
        if (this.#pending.size === 0 && idleFor >= interval * 0.9 && this.#locks.size > 0) {
          this.run(this.#options.sql.keepalive()).then(
            () => this.#armKeepalive(),
            () => {},
          );
        } else {
          this.#armKeepalive();
        }
      },
      Math.max(1, due),
    );
    this.#keepaliveTimer.unref();
  }
}
