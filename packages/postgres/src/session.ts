/**
 * A PostgreSQL lock session: one connection pinned out of the pool, on which session advisory
 * locks are taken, checked and released — never through `pool.query()`, where an unlock could
 * land on another backend and leak the lock.
 *
 * The connection is the server-side lease: its locks live as long as it does. Its locks of one
 * TTL form one {@link LockSession} (core's `Session`), trusted until the last answered
 * statement's send time + that TTL. Any answered statement proves the connection alive, so a
 * keep-alive goes out only after a third of a TTL of silence, and it checks every lock on the
 * connection at once: one `pg_locks` count, the per-lock query only when the count disagrees.
 * Locks of all TTLs share the connection: connections are a server's scarcest resource. Every
 * primitive held as advisory locks rides here the same way: a lock, a read or write grant, a
 * leadership, a semaphore's permit (its slot, plus the shared markers its semaphore's holders
 * keep, counted once per connection however many permits share them).
 *
 * The server's `idle_session_timeout` follows the longest TTL on the connection, so a silent
 * (paused, hung) holder loses it — and its locks — one TTL after it went quiet, never sooner
 * than core trusts them. The setting rides in a lock statement only when it changes, is never
 * lowered while locks are held, and goes back once the connection held nothing for a third of it.
 * @module
 */
import { BackendUnavailableError, LockLostError } from '@lockstep/core';
import {
  backendFailure,
  LossFlag,
  Session,
  type SessionMember,
  type SessionStrategy,
} from '@lockstep/core/driver';
import type pg from 'pg';
import { isSessionFatal, poolerError } from './errors.js';
import type { LockPlacement } from './keys.js';
import type { AdvisoryMode, LockSql, Statement } from './sql.js';

/** What the probe of a fresh connection found. */
export interface SessionInfo {
  /** The backend's pid (`pg_backend_pid()`). */
  readonly pid: number;
  /** `server_version_num`, e.g. 150004. */
  readonly version: number;
  /** The session's `idle_session_timeout` in ms before we touched it (`null` before PostgreSQL 14). */
  readonly idleTimeout: string | null;
}

/** Options of a {@link LockConnection}. */
export interface ConnectionOptions {
  readonly sql: LockSql;
  /** Longest wait for a reply to a non-blocking statement (at most the shortest TTL held applies). */
  readonly commandTimeoutMs: number;
  /** Check that every lock statement ran on the backend probed at the start (session poolers). */
  readonly checkPid: boolean;
  /** Called once when the connection dies or goes back to the pool. */
  readonly onEnd: () => void;
  /** Called when the connection comes to hold nothing. */
  readonly onEmpty?: () => void;
}

/** The locks of one TTL on one connection, kept alive together. */
export class LockSession extends Session<HeldLock> {
  constructor(
    readonly connection: LockConnection,
    strategy: SessionStrategy<HeldLock>,
    ttlMs: number,
    confirmedAt: number,
  ) {
    super(strategy, { ttlMs, confirmedAt, describe: `lock session ${connection.pid} (${ttlMs} ms locks)` });
  }
}

/** One lock held (or being taken) on a connection. */
export class HeldLock implements SessionMember {
  /** Tripped once when the lock is lost (one per held lock: core listens to it). */
  readonly lost = new LossFlag();
  held = false;
  /** The session of its TTL: from the claim on the primary, from the grant on a waiting connection. */
  session: LockSession | undefined;
  /** How the server holds it. */
  mode: AdvisoryMode = 'exclusive';
  /** The statement that gives it back, when it is not the plain unlock of its key and mode. */
  release: Statement | undefined;
  /** Shared locks that come and go with it (a permit's semaphore markers), by `pg_locks` identity. */
  markers: readonly string[] | undefined;
  /** The semaphore whose slot it fills, and the slot. */
  group: string | undefined;
  slot = -1;
  /** Read grants of this coordinator riding on this one shared hold (it is unlocked after the last). */
  readers = 1;

  constructor(
    readonly name: string,
    readonly placement: LockPlacement,
    public ttlMs: number,
    readonly connection: LockConnection,
  ) {}

  sessionLost(reason: Error): void {
    // The connection gone, the server dropped the lock; the connection alive, no statement was
    // answered for the lock's whole TTL: its lease ran out (and it is given back).
    const why = this.connection.ended ? 'session-lost' : 'expired';
    this.lost.abort(new LockLostError(this.name, why, { cause: reason }));
  }
}

/** A statement waiting to be sent or for its reply. */
interface Pending {
  readonly stmt: Statement;
  readonly timeout: boolean;
  readonly resolve: (result: pg.QueryResult) => void;
  readonly reject: (error: unknown) => void;
  timer?: NodeJS.Timeout;
}

/** A pinned connection holding advisory locks. */
export class LockConnection {
  readonly #client: pg.PoolClient;
  readonly #info: SessionInfo;
  readonly #options: ConnectionOptions;
  readonly #sql: LockSql;
  readonly #locks = new Map<string, HeldLock>();
  readonly #sessions = new Map<number, LockSession>();
  #heldCount = 0;
  /** How many held locks keep each marker (`pg_locks` identity) on this session. */
  readonly #markers = new Map<string, number>();
  /** Held permits per semaphore. */
  readonly #groups = new Map<string, Set<HeldLock>>();
  /** Whether the last keep-alive found the server holding as many locks as we think we hold. */
  #countsAgree = true;
  /** The send time of the last statement the server answered. */
  #answeredAt = performance.now();
  readonly #queue: Pending[] = [];
  #inFlight: Pending | undefined;
  #ended: Error | undefined;
  /** Set once the reset that precedes giving the connection back is queued: nothing may follow. */
  #returning: Error | undefined;
  /** The session's idle timeout now, in ms (0: none). */
  #appliedMs: number;
  #restoreTimer: NodeJS.Timeout | undefined;
  readonly #onError = (cause: unknown) =>
    this.die(new BackendUnavailableError('postgres', 'the lock session ended', { cause }));
  readonly #onEnd = () => this.#onError(new Error('connection ended'));

  constructor(client: pg.PoolClient, info: SessionInfo, options: ConnectionOptions) {
    this.#client = client;
    this.#info = info;
    this.#options = options;
    this.#sql = options.sql;
    this.#appliedMs = Number(info.idleTimeout ?? 0);
    // A checked-out pool client has no error listener: without ours, a drop would crash the process.
    client.on('error', this.#onError);
    client.on('end', this.#onEnd);
  }

  /** The backend's pid. */
  get pid(): number {
    return this.#info.pid;
  }

  /** Why the connection is gone (dead or given back), once it is: nothing more runs on it. */
  get ended(): Error | undefined {
    return this.#ended;
  }

  /** Locks held or being taken here. */
  get size(): number {
    return this.#locks.size;
  }

  /** The lock on `id`, if this connection holds (or is taking) it. */
  lockOn(id: string): HeldLock | undefined {
    return this.#locks.get(id);
  }

  /** The permits of semaphore `group` held here. */
  permitsOf(group: string): ReadonlySet<HeldLock> | undefined {
    return this.#groups.get(group);
  }

  /** The statement that gives `lock` back. */
  releaseOf(lock: HeldLock): Statement {
    return lock.release ?? this.#sql.unlock(lock.placement.advisory, lock.mode);
  }

  /**
   * The live session for locks of `ttlMs`, opened when there is none. `confirmedAt`: the send
   * time of a statement the server answered, when the caller has one; without it a new session
   * starts its window now, which is safe: no lock joins it before a later statement is answered.
   */
  session(ttlMs: number, confirmedAt?: number): LockSession {
    const current = this.#sessions.get(ttlMs);
    if (current?.live) {
      if (confirmedAt !== undefined) current.answered(confirmedAt);
      return current;
    }
    const since = confirmedAt ?? performance.now();
    const session: LockSession = new LockSession(
      this,
      this.#strategy(() => session),
      ttlMs,
      since,
    );
    this.#sessions.set(ttlMs, session);
    return session;
  }

  /**
   * Claims the key of `placement` before the statement that takes it is sent, so a concurrent
   * local attempt cannot stack a second hold here (advisory locks are re-entrant). `undefined`
   * when already claimed.
   */
  claim(name: string, placement: LockPlacement, ttlMs: number, session?: LockSession): HeldLock | undefined {
    if (this.#ended || this.#locks.has(placement.id)) return undefined;
    const lock = new HeldLock(name, placement, ttlMs, this);
    this.#locks.set(placement.id, lock);
    clearTimeout(this.#restoreTimer);
    lock.session = session;
    session?.retain();
    return lock;
  }

  /**
   * Marks a claimed lock held, right after the statement that took it was answered. It joins
   * `session`, else the live session of its TTL (one lost meanwhile, the connection alive, gave
   * its held locks back already, and this one was not among them).
   */
  hold(lock: HeldLock, session = lock.session): void {
    this.#join(lock, session);
    lock.held = true;
    this.#heldCount++;
    if (lock.markers) for (const id of lock.markers) this.#markers.set(id, (this.#markers.get(id) ?? 0) + 1);
    if (lock.group !== undefined) {
      const permits = this.#groups.get(lock.group);
      if (permits) permits.add(lock);
      else this.#groups.set(lock.group, new Set([lock]));
    }
  }

  #join(lock: HeldLock, session: LockSession | undefined): void {
    const live =
      session && (session.live || this.#ended) ? session : this.session(lock.ttlMs, this.#answeredAt);
    if (live !== lock.session) {
      lock.session?.unretain();
      live.retain();
    }
    lock.session = live;
    live.join(lock);
  }

  /** Forgets a claim or a released (or lost) lock. */
  forget(lock: HeldLock): void {
    if (this.#locks.get(lock.placement.id) !== lock) return;
    this.#locks.delete(lock.placement.id);
    if (lock.held) this.#release(lock);
    lock.session?.leave(lock);
    lock.session?.unretain();
    if (this.#locks.size > 0 || this.#ended) return;
    this.#options.onEmpty?.();
    this.#armRestore();
  }

  #release(lock: HeldLock): void {
    this.#heldCount--;
    for (const id of lock.markers ?? []) {
      const left = (this.#markers.get(id) ?? 1) - 1;
      if (left > 0) this.#markers.set(id, left);
      else this.#markers.delete(id);
    }
    if (lock.group === undefined) return;
    const permits = this.#groups.get(lock.group);
    permits?.delete(lock);
    if (permits?.size === 0) this.#groups.delete(lock.group);
  }

  /** Moves a held lock to the session of `ttlMs` (`extend()` with a new TTL), confirmed at `sentAt`. */
  retime(lock: HeldLock, ttlMs: number, sentAt: number): void {
    if (lock.ttlMs === ttlMs || this.#locks.get(lock.placement.id) !== lock) return;
    lock.ttlMs = ttlMs;
    lock.session?.leave(lock);
    this.#join(lock, this.session(ttlMs, sentAt));
  }

  /**
   * The `idle_session_timeout` a statement must set for the locks here plus one of `ttlMs`: their
   * longest TTL — or `null` when the session has exactly that already (or timeouts are off).
   */
  timeoutFor(ttlMs = 0): string | null {
    if (!this.#sql.timeouts) return null;
    const wanted = Math.ceil(this.#ttlInUse(true, ttlMs));
    return wanted === 0 || wanted === this.#appliedMs ? null : String(wanted);
  }

  /** Records that a statement carrying `setting` (from {@link timeoutFor}) succeeded. */
  applied(setting: string | null): void {
    if (setting !== null) this.#appliedMs = Number(setting);
  }

  /**
   * Runs one statement here. No reply within the command timeout, a connection-level failure,
   * or a reply from another backend than the one probed (a pooler) kills the connection; server
   * errors of the statement are returned as is. `timeout: false` for waits (cancelled instead).
   */
  run(stmt: Statement, timeout = true): Promise<pg.QueryResult> {
    const refused = this.#ended ?? this.#returning;
    if (refused) return Promise.reject(refused);
    return new Promise<pg.QueryResult>((resolve, reject) => {
      this.#queue.push({ stmt, timeout, resolve, reject });
      if (!this.#inFlight) this.#sendNext();
    });
  }

  // Statements go out one at a time, in order, from our own queue: pg 8.23 deprecates queueing
  // on a busy client, and order is what makes a later claim of a key reach the server after
  // the unlock that freed it. The command timeout counts from the moment a statement is sent.
  // pg's callback form is used: its promise form adds two promises per statement on the hot path.
  #sendNext(): void {
    const pending = this.#ended ? undefined : this.#queue.shift();
    this.#inFlight = pending;
    if (!pending) return;
    const sentAt = performance.now();
    if (pending.timeout) {
      const ms = this.#ttlInUse(false, this.#options.commandTimeoutMs);
      pending.timer = setTimeout(() => {
        this.die(new BackendUnavailableError('postgres', `no reply from the lock session within ${ms} ms`));
      }, ms);
    }
    this.#client.query(pending.stmt, (error: Error | null, result: pg.QueryResult) => {
      if (this.#inFlight !== pending) return; // the connection died first and rejected it
      clearTimeout(pending.timer);
      // Every lock statement reports the backend it ran on.
      const pid = error ? undefined : (result.rows[0] as { pid?: unknown } | undefined)?.pid;
      if (this.#options.checkPid && pid !== undefined && pid !== this.pid) {
        this.die(poolerError(`a lock statement ran on backend ${String(pid)}, not on ${this.pid}`));
        return;
      }
      if (error && isSessionFatal(error)) this.die(backendFailure('postgres', 'the lock session', error));
      else {
        this.#answeredAt = sentAt;
        for (const session of this.#sessions.values()) session.answered(sentAt);
      }
      if (error) pending.reject(error);
      else pending.resolve(result);
      this.#sendNext();
    });
  }

  /**
   * Ends the connection: every lock on it is reported lost, and it is destroyed (the server
   * frees its locks when it sees the connection close). Idempotent.
   */
  die(reason: Error): void {
    if (this.#ended) return;
    this.#ended = reason;
    this.#detach();
    for (const session of this.#sessions.values()) session.markLost('its connection ended', reason);
    this.#locks.clear();
    const pending = this.#inFlight ? [this.#inFlight, ...this.#queue.splice(0)] : this.#queue.splice(0);
    this.#inFlight = undefined;
    for (const { timer, reject } of pending) {
      clearTimeout(timer);
      reject(reason);
    }
    try {
      this.#client.release(reason);
    } catch {
      // Already given back.
    }
    // end() waits for the server's goodbye, which a paused server never sends: cut the socket.
    (
      this.#client as unknown as { connection?: { stream?: { destroy?(): void } } }
    ).connection?.stream?.destroy?.();
    this.#options.onEnd();
  }

  /**
   * Gives a connection that holds nothing back to the pool, after dropping any advisory lock the
   * server may still have on it and restoring its idle timeout (a failure destroys it instead).
   */
  async giveBack(): Promise<void> {
    if (this.#ended || this.#returning) return;
    const reset = this.run(this.#sql.reset(this.#info.idleTimeout));
    this.#returning = new BackendUnavailableError('postgres', 'the lock session was returned to the pool');
    try {
      await reset;
    } catch (error) {
      this.die(backendFailure('postgres', 'resetting a lock session', error));
      return;
    }
    if (this.#ended) return;
    this.#ended = this.#returning;
    this.#detach();
    for (const session of this.#sessions.values()) void session.close();
    this.#client.release();
    this.#options.onEnd();
  }

  #detach(): void {
    clearTimeout(this.#restoreTimer);
    this.#client.off('error', this.#onError);
    this.#client.off('end', this.#onEnd);
  }

  /** The longest (or shortest) of `start` and the TTLs of the sessions with locks or claims on them. */
  #ttlInUse(longest: boolean, start: number): number {
    let ms = start;
    for (const { live, users, ttlMs } of this.#sessions.values()) {
      if (live && users > 0 && (longest ? ttlMs > ms : ttlMs < ms)) ms = ttlMs;
    }
    return ms;
  }

  // Held nothing for a third of a raised idle timeout: the original comes back, before the
  // server would end the idle connection (and not on every release of a loop that takes the
  // lock again at once). The reset drops no lock: there is none, and later claims come after it.
  #armRestore(): void {
    const original = this.#info.idleTimeout;
    if (!this.#sql.timeouts || original === null || this.#appliedMs === Number(original)) return;
    this.#restoreTimer = setTimeout(() => {
      if (this.#locks.size > 0 || this.#ended) return;
      this.run(this.#sql.reset(original)).then(
        () => this.applied(original),
        () => {},
      );
    }, this.#appliedMs / 3);
    this.#restoreTimer.unref();
  }

  /** The recipe's half of the session `session()` returns. */
  #strategy(session: () => LockSession): SessionStrategy<HeldLock> {
    return {
      // One statement: the backend's pid (the pooler check) and how many advisory locks it holds
      // (each held lock is one, and each marker one however many permits keep it).
      keepAlive: async () => {
        if (this.#ended) return false;
        const { held } = (await this.run(this.#sql.keepalive())).rows[0] as { held: number };
        this.#countsAgree = held === this.#heldCount + this.#markers.size;
        return true;
      },
      // Only when the count disagreed (a lock dropped behind our back, or a release on its way):
      // which of these locks `pg_locks` no longer shows, in one query.
      verify: async (members) => {
        if (this.#countsAgree) return [];
        const asked = [...members].filter((lock) => lock.held);
        const result = await this.run(this.#sql.held(asked.map((lock) => lock.placement.id)));
        const held = new Set((result.rows[0] as { held: string[] }).held);
        const gone = asked.filter((l) => !held.has(l.placement.id) && this.lockOn(l.placement.id) === l);
        for (const lock of gone) {
          lock.lost.abort(new LockLostError(lock.name, 'stolen'));
          this.forget(lock);
        }
        return gone;
      },
      // Lost with the connection alive (its window ran out), or retired: its held locks go back,
      // so others can have them (a claim in flight joins a live session when answered). Each
      // unlock is queued before its lock is forgotten: an empty connection may go back to the
      // pool, and its reset must come after.
      end: async () => {
        const ended = session();
        if (this.#sessions.get(ended.ttlMs) === ended) this.#sessions.delete(ended.ttlMs);
        for (const lock of [...this.#locks.values()]) {
          if (lock.session !== ended || !lock.held) continue;
          this.run(this.releaseOf(lock)).catch((error: unknown) =>
            this.die(backendFailure('postgres', 'giving back an expired lock', error)),
          );
          this.forget(lock);
        }
      },
    };
  }
}
