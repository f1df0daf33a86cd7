/**
 * A lock session: one connection pinned out of the pool, on which session-level advisory
 * locks are taken and released. Everything about a lock happens on the connection that holds
 * it — never through `pool.query()`, where an unlock could land on another backend and leak
 * the lock.
 *
 * The session knows which locks it holds (so a second local acquire of a held key is refused
 * here instead of being stacked by PostgreSQL's re-entrant advisory locks), keeps the server's
 * `idle_session_timeout` at the longest TTL it holds, and sends a keepalive when nothing else
 * ran for a third of it.
 *
 * Why the longest: core trusts a lease until its last confirmed health check + ttl, so the
 * server must not end the session sooner than that for ANY lock on it; then a silent (paused,
 * hung) holder loses its session — and every lock on it — one TTL after it went quiet. The
 * setting rides along in the lock statement only when it changes (a loop on one TTL sends it
 * once), is never lowered while locks are held, and goes back to the original value once the
 * session has held nothing for a third of it. It dies — once — when its connection ends, errors, stops answering
 * within the command timeout, or turns out to be multiplexed by a pooler; dying aborts the
 * `lost` signal of every lock it held.
 * @module
 */
import { setMaxListeners } from 'node:events';
import { BackendUnavailableError } from '@lockstep/core';
import type pg from 'pg';
import { isSessionFatal, poolerError, toLockstepError } from './errors.js';
import type { LockPlacement } from './keys.js';
import type { LockSql, Statement } from './sql.js';

/** How many locks share one `lost` signal. */
const LOSS_SIGNAL_SHARERS = 32;

/** What the probe of a fresh connection found. */
export interface SessionInfo {
  /** The backend's pid (`pg_backend_pid()`). */
  readonly pid: number;
  /** `server_version_num`, e.g. 150004. */
  readonly version: number;
  /** The session's `idle_session_timeout` in ms before we touched it (`null` before PostgreSQL 14). */
  readonly idleTimeout: string | null;
}

/** One lock held (or being taken) on a session. */
export interface SessionLock {
  readonly ownerId: string;
  readonly placement: LockPlacement;
  /** The lease length this lock asks the session's idle timeout to honour. */
  ttlMs: number;
  /**
   * Aborted when the session dies while the lock is on it. Shared by a few locks of the session
   * (see `#lossSignal`): loss is a property of the session, not of one lock.
   */
  readonly lost: AbortController;
  /** `pending` while the statement that takes it is in flight. */
  state: 'pending' | 'held';
  /**
   * `performance.now()` until which core trusts the lease (grant, then each confirmed health
   * check + ttl). Past it core has reported the lock lost; the session then gives it back.
   */
  validUntil: number;
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
  /** Called after the session gave back a lock whose lease had ended (it may now hold nothing). */
  readonly onExpiredGivenBack?: (session: LockSession) => void;
}

/** A statement waiting to be sent or for its reply. */
interface Pending {
  readonly stmt: Statement;
  readonly timeout: boolean;
  readonly resolve: (result: pg.QueryResult) => void;
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
  #loss: AbortController | undefined;
  #lossUses = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerInterval = Number.POSITIVE_INFINITY;
  /** The session's idle timeout now, in ms (0: none). */
  #appliedMs: number;
  readonly #originalMs: number;
  #checkBatch: { readonly ids: Set<string>; readonly held: Promise<Set<string>> } | undefined;
  /** Queued and in-flight statements, oldest first. */
  readonly #pending = new Set<Pending>();
  #sending: Pending | undefined;
  #returned = false;
  readonly #onError = (error: unknown) => this.#ended(error);
  readonly #onEnd = () => this.#ended(new Error('connection ended'));

  constructor(client: pg.PoolClient, info: SessionInfo, options: SessionOptions) {
    this.client = client;
    this.info = info;
    this.#options = options;
    this.#originalMs = Number(info.idleTimeout ?? 0);
    this.#appliedMs = this.#originalMs;
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
    const lock: SessionLock = {
      ownerId,
      placement,
      ttlMs,
      lost: this.#lossController(),
      state: 'pending',
      validUntil: Number.POSITIVE_INFINITY,
    };
    this.#locks.set(placement.id, lock);
    return lock;
  }

  /** Forgets a claim or a released lock. */
  forget(lock: SessionLock): void {
    if (this.#locks.get(lock.placement.id) === lock) this.#locks.delete(lock.placement.id);
    this.#armTimer();
  }

  /** Marks a claimed lock held. */
  hold(lock: SessionLock): void {
    lock.state = 'held';
    this.#armTimer();
  }

  /**
   * The `idle_session_timeout` a statement must set for the locks on this session (claims
   * included) plus one of `ttlMs`: their longest TTL — or `null` when the session already has
   * exactly that (or timeouts are off).
   */
  timeoutFor(ttlMs = 0): string | null {
    if (!this.#options.sql.timeouts) return null;
    let max = ttlMs;
    for (const lock of this.#locks.values()) if (lock.ttlMs > max) max = lock.ttlMs;
    const wanted = Math.ceil(max);
    return wanted === 0 || wanted === this.#appliedMs ? null : String(wanted);
  }

  /** Records that a statement carrying `setting` (from {@link timeoutFor}) succeeded. */
  applied(setting: string | null): void {
    if (setting === null) return;
    this.#appliedMs = Number(setting);
    this.#armTimer();
  }

  /**
   * Runs one statement on this connection. A reply that does not come within the command
   * timeout kills the session; so does a connection-level failure. Server errors of the
   * statement are returned as is (the session stays usable).
   */
  run(stmt: Statement, options: RunOptions = {}): Promise<pg.QueryResult> {
    if (this.dead) return Promise.reject(this.#died.signal.reason);
    return new Promise<pg.QueryResult>((resolve, reject) => {
      this.#pending.add({ stmt, timeout: options.timeout !== false, resolve, reject, timer: undefined });
      if (!this.#sending) this.#sendNext();
    });
  }

  // Statements go out one at a time, in order, from our own queue: pg 8.23 deprecates queueing
  // on a busy client, and order is what makes a later claim of a key reach the server after
  // the unlock that freed it. The command timeout counts from the moment a statement is sent.
  // pg's callback form is used: its promise form adds two promises per statement on the hot path.
  #sendNext(): void {
    const next = this.#pending.values().next();
    if (next.done || this.dead) {
      this.#sending = undefined;
      return;
    }
    const pending = next.value;
    this.#sending = pending;
    this.#lastSentAt = performance.now();
    if (pending.timeout) {
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
    this.client.query(pending.stmt, (error: Error | null, result: pg.QueryResult) => {
      if (!this.#pending.delete(pending)) return; // the session died first and rejected it
      clearTimeout(pending.timer);
      if (error) {
        if (isSessionFatal(error)) this.die(toLockstepError(error, 'the lock session'));
        pending.reject(error);
      } else {
        pending.resolve(result);
      }
      this.#sendNext();
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
   * Whether `pg_locks` shows this session holding the advisory lock `id`
   * (`classid/objid/objsubid`). Checks asked for in the same tick share one query, which
   * returns only the ids asked for (a session may hold thousands), and raises the idle
   * timeout if a renewal asked for a longer TTL.
   */
  holds(id: string): Promise<boolean> {
    let batch = this.#checkBatch;
    if (!batch) {
      const ids = new Set<string>();
      const held = Promise.resolve().then(() => {
        this.#checkBatch = undefined;
        const setting = this.timeoutFor();
        return this.run(this.#options.sql.held([...ids], setting)).then((result) => {
          const row = result.rows[0] as { pid: number; held: string[] };
          this.checkPid(row.pid);
          this.applied(setting);
          return new Set(row.held);
        });
      });
      batch = { ids, held };
      this.#checkBatch = batch;
    }
    batch.ids.add(id);
    return batch.held.then((held) => held.has(id));
  }

  /**
   * Ends the session: every lock on it is reported lost, the connection is destroyed (the
   * server frees its locks when it sees the connection close). Idempotent.
   */
  die(reason: Error): void {
    if (this.dead) return;
    this.#died.abort(reason);
    clearTimeout(this.#timer);
    for (const lock of this.#locks.values()) lock.lost.abort(reason);
    this.#loss?.abort(reason);
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
    clearTimeout(this.#timer);
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

  // Every grant's `lost` signal. Creating an AbortSignal costs about 4 µs in Node 20 — a tenth
  // of a whole lock cycle — so locks share one, a few at a time: core adds one listener per
  // handle and never removes it, so a signal shared by every grant of a long-lived session
  // would collect listeners without bound. A new one every 32 grants keeps both small; a dead
  // session aborts every signal still held by one of its locks.
  #lossController(): AbortController {
    if (!this.#loss || this.#lossUses >= LOSS_SIGNAL_SHARERS) {
      this.#loss = new AbortController();
      // One listener per handle sharing it is expected, not a leak.
      setMaxListeners(LOSS_SIGNAL_SHARERS + 1, this.#loss.signal);
      this.#lossUses = 0;
    }
    this.#lossUses++;
    return this.#loss;
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

  // A lock whose lease core stopped trusting (its event loop stalled past the TTL, say) has
  // been reported lost to the application; unless the session gives it back, the server would
  // keep it for us until the handle is released. Unlock it, so others can have it.
  #giveUpExpired(): void {
    if (this.dead) return;
    const now = performance.now();
    for (const lock of [...this.#locks.values()]) {
      if (lock.state !== 'held' || lock.validUntil >= now) continue;
      this.forget(lock);
      this.run(this.#options.sql.unlock(lock.placement.advisory)).then(
        () => this.#options.onExpiredGivenBack?.(this),
        (error: unknown) => this.die(toLockstepError(error, 'giving back an expired lock')),
      );
    }
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

  // One timer per session, never touched by the statements themselves (they only move
  // `#lastSentAt`). While locks are held it sends a keepalive when nothing else ran for a third
  // of the idle timeout (renewals of auto-extended handles usually make that unnecessary; pure
  // leases and longer TTLs sharing the session need it). Once the session holds nothing it
  // restores the original idle timeout, before the server would end the idle session.
  #armTimer(): void {
    const holding = this.#locks.size > 0;
    const timeouts = this.#options.sql.timeouts && this.#appliedMs > 0;
    if (this.dead || !(holding || (timeouts && this.#appliedMs !== this.#originalMs))) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerInterval = Number.POSITIVE_INFINITY;
      return;
    }
    let span = this.#appliedMs;
    if (!timeouts) for (const lock of this.#locks.values()) span = Math.max(span, lock.ttlMs);
    const interval = span / 3;
    if (this.#timer !== undefined) {
      if (interval >= this.#timerInterval) return;
      clearTimeout(this.#timer); // a shorter timeout arrived: wake sooner
    }
    this.#timerInterval = interval;
    // With idle timeouts the timer follows the last statement sent (a keepalive is due a third
    // of the timeout after it); without, it only sweeps expired locks, every third of a TTL.
    const due = timeouts ? this.#lastSentAt + interval - performance.now() : interval;
    this.#timer = setTimeout(() => this.#onTimer(interval), Math.max(1, interval / 4, due));
    this.#timer.unref();
  }

  #onTimer(interval: number): void {
    this.#timer = undefined;
    this.#timerInterval = Number.POSITIVE_INFINITY;
    if (this.dead) return;
    // After the timers due now (core's expiry watchdogs among them) have run, so the handle
    // reports its loss as expiry before the lock is given back.
    setImmediate(() => this.#giveUpExpired());
    const quiet = this.#pending.size === 0 && performance.now() - this.#lastSentAt >= interval * 0.9;
    if (!quiet || !this.#options.sql.timeouts) {
      this.#armTimer();
      return;
    }
    if (this.#locks.size > 0) {
      this.run(this.#options.sql.keepalive()).then(
        () => this.#armTimer(),
        () => {},
      );
    } else {
      const original = String(this.#originalMs);
      this.run(this.#options.sql.restoreTimeout(original)).then(
        () => this.applied(original),
        () => {},
      );
    }
  }
}
