/**
 * Semaphores: K permits are K slot keys, and a permit is one of them taken exclusively on the
 * primary connection — so it rides on the primary's session like a lock, and is given back by
 * the server when its holder's connection ends (a killed process frees its permits at once).
 *
 * **The grant is one statement** (one round trip), serialised per semaphore by a
 * transaction-scoped advisory lock on its gate key, held only while the statement runs:
 *
 * 1. take the markers of the declared count, shared (see {@link SemaphorePlacement}: a count's
 *    bits, each position one of two keys);
 * 2. the mismatch check: when another session holds any marker of an opposite bit, a holder of
 *    another count holds — refused, markers given back;
 * 3. the first free slot among the first K (`pg_try_advisory_lock` over a lazy series, stopping
 *    at the first that succeeds; the slots this connection already holds are skipped, since a
 *    session's advisory locks are re-entrant); none free: refused, markers given back;
 * 4. the fencing token from the sequence, only when a slot was taken.
 *
 * "Another session holds" is asked of the lock manager itself: a session's own share never
 * conflicts with its request, so `pg_try_advisory_xact_lock(marker)` succeeds exactly when no
 * other session holds the marker. Every holder keeps all its markers from before its slot is
 * taken until after its slot is given back (a release frees the slot first), so a live holder
 * of another count is always seen — also while a dying session's locks are freed one by one in
 * the server's own order. Holders of one count never refuse each other.
 *
 * **Mismatch rule `stored`**: the count of the first holder is stored — in the lock manager, as
 * the markers every holder keeps — while the semaphore is in use; a client declaring another
 * count is refused with `InvalidArgumentError`, and may declare it once every permit is back.
 *
 * **Waiting** is one line across every coordinator, kept by PostgreSQL's lock queue. A waiter
 * (the first of its coordinator: local waiters line up behind it) queues for the semaphore's
 * head key on a waiting connection; the one that holds it is the head, and the head alone
 * re-tries: on its own waiting connection, where the permit then stays, whenever a release
 * notifies the semaphore's channel, and at least every third of its TTL, which also renews the
 * idle lease of its connection (a paused head is cut off by the server after its TTL, and the
 * next in line becomes head). The grant that serves the head gives the head key up in the
 * same statement, so the next waiter in the server's queue is head at once. While the head key
 * is held or queued for, every other attempt is refused (so `tryAcquire` returns `null` while
 * others wait, though a permit may be free: it is the head's): a release wakes one re-try, not
 * one per waiting coordinator, and a releaser cannot take its permit straight back past the
 * waiters. A release notifies the channel, in its own statement, only when the waiting marker
 * shows a listener — a release with nobody waiting writes nothing. Past `maxWaitingSessions`
 * a waiter re-tries on notifications and a capped backoff instead. Waiters of one coordinator
 * join the server's line one at a time, so the order is FIFO among the heads' coordinators,
 * not among all waiters: `fairness: 'none'`.
 * @module
 */
import { setMaxListeners } from 'node:events';
import { InvalidArgumentError } from '@lockstep/core';
import {
  type AcquireRequest,
  Backoff,
  backendFailure,
  type LeaseGrant,
  type LockDriver,
  type LockWatch,
  ReleaseHub,
  type SemaphoreRef,
} from '@lockstep/core/driver';
import { cancelUntilSettled } from './cancel.js';
import { grantFor } from './grant.js';
import { type LockPlacement, pgLocksText, placeSemaphore, type SemaphorePlacement, slotKey } from './keys.js';
import type { Listener, Subscription } from './listener.js';
import type { TableGuard } from './schema.js';
import type { LockConnection } from './session.js';
import type { SessionSet } from './sessions.js';
import { idleTimeoutCall, type LockSql, type Statement, setIdleTimeout } from './sql.js';
import { Turnstile } from './turnstile.js';

/** What the grant statement found, in its `slot` column. */
const SLOT = { mismatch: -1, full: -4, queued: -5 } as const;

/** The grant and release statements of semaphores, for one schema's token sequence. */
export class SemaphoreSql {
  readonly #sql: LockSql;

  constructor(sql: LockSql) {
    this.#sql = sql;
  }

  /**
   * One attempt (see the module comment). Columns: `slot` (the slot taken, or a negative
   * verdict), `token` (text, when a slot was taken), `pid`. `idleTimeout` is set only on a grant.
   * `head`: the attempt of the head of the line, on the connection that holds the head key — it
   * skips the line and gives the head key up when it takes a slot; any other attempt is
   * refused (`queued`) while the head key is held or queued for.
   */
  take(
    place: SemaphorePlacement,
    held: readonly number[],
    idleTimeout: string | null,
    head: boolean,
  ): Statement {
    const setting = this.#sql.timeouts && idleTimeout !== null;
    const stmt = this.#sql.prepared(
      `semaphore_take${head ? '_head' : ''}${setting ? '_timeout' : ''}`,
      // Every step is a CASE branch: CASE is the one construct whose evaluation order SQL
      // promises, and each step must see the one before it. The line is checked before any
      // marker is taken, so a refusal has nothing to give back. The markers are waited for, not
      // tried: the grant before this one frees its transaction's locks in no set order, so the
      // gate may come free before the markers that grant checked exclusively. A shared wait
      // outlasts such a leftover (the rest of that commit); then only another session's share
      // of an opposite marker makes the exclusive try fail. (The wait and the try are a CASE,
      // not an AND, which the planner may reorder by cost.)
      () => `SELECT v.slot, CASE WHEN v.slot >= 0 THEN ${this.#sql.nextToken}::text END AS token,
  CASE WHEN v.slot IN (${SLOT.mismatch}, ${SLOT.full})
    THEN (SELECT count(*) FROM unnest($2::bigint[]) k WHERE pg_advisory_unlock_shared(k)) END AS markers_back,${
      head
        ? `
  CASE WHEN v.slot >= 0 THEN pg_advisory_unlock($7::bigint) END AS head_back,`
        : ''
    }
  pg_backend_pid() AS pid${setting ? `, CASE WHEN v.slot >= 0 THEN ${idleTimeoutCall(8)} END AS t` : ''}
FROM (SELECT CASE
  WHEN pg_advisory_xact_lock($1::bigint)::text <> '' THEN -9${
    head
      ? ''
      : `
  WHEN NOT pg_try_advisory_xact_lock_shared($7::bigint) THEN ${SLOT.queued}`
  }
  WHEN (SELECT count(*) FROM unnest($2::bigint[]) k WHERE pg_advisory_lock_shared(k)::text = '') < 0 THEN -9
  WHEN EXISTS (SELECT 1 FROM unnest($3::bigint[]) k
    WHERE CASE WHEN pg_advisory_xact_lock_shared(k)::text = '' THEN NOT pg_try_advisory_xact_lock(k) END) THEN ${SLOT.mismatch}
  ELSE COALESCE((SELECT s.i FROM (SELECT generate_series(0, $5::int - 1) AS i) s
    WHERE CASE WHEN s.i = ANY($6::int4[]) THEN false ELSE pg_try_advisory_lock($4::bigint # s.i) END
    LIMIT 1), ${SLOT.full})
END AS slot OFFSET 0) v`,
    );
    const values: unknown[] = [
      place.gate.toString(),
      place.held,
      place.refusing,
      place.slots.toString(),
      place.slotCount,
      held,
      place.head.toString(),
    ];
    if (setting) values.push(idleTimeout);
    return { ...stmt, values };
  }

  /**
   * Queues for the head key in the server's lock queue and returns once it is held, setting
   * the connection's idle lease to `idleTimeout` (when timeouts are on). Columns: `pid`.
   */
  queue(place: SemaphorePlacement, idleTimeout: string): Statement {
    const setting = this.#sql.timeouts;
    const stmt = this.#sql.prepared(
      `semaphore_queue${setting ? '_timeout' : ''}`,
      () =>
        `SELECT pg_advisory_lock($1::bigint)::text AS head, pg_backend_pid() AS pid${setting ? setIdleTimeout(2) : ''}`,
    );
    return { ...stmt, values: setting ? [place.head.toString(), idleTimeout] : [place.head.toString()] };
  }

  /**
   * Gives slot `slot` back, then the holder's markers, then notifies the semaphore's channel if
   * some other session holds the waiting marker (a listener with waiters). Columns: `released`,
   * `pid`.
   */
  release(place: SemaphorePlacement, slot: number): Statement {
    const stmt = this.#sql.prepared(
      'semaphore_release',
      // The slot goes first (the subquery is evaluated before the target list that uses it):
      // markers that outlive a slot only make another count wait, while a slot that outlived
      // its markers would be a holder that grants of another count cannot see.
      () => `SELECT r.released, pg_backend_pid() AS pid,
  (SELECT count(*) FROM unnest($2::bigint[]) k WHERE pg_advisory_unlock_shared(k))::int AS markers_back,
  CASE WHEN r.released AND NOT pg_try_advisory_xact_lock($3::bigint) THEN pg_notify($4::text, '')::text END AS notified
FROM (SELECT pg_advisory_unlock($1::bigint) AS released OFFSET 0) r`,
    );
    const values = [
      slotKey(place.slots, slot).toString(),
      place.held,
      place.waiting.toString(),
      place.channel,
    ];
    return { ...stmt, values };
  }
}

/** A never-aborted signal: attempts of one semaphore line up, but a try never gives up its turn. */
const NEVER = new AbortController().signal;
setMaxListeners(0, NEVER);

/** The semaphores of one coordinator: permits on the primary, waits in the server's line. */
export class PostgresSemaphores implements LockDriver<SemaphoreRef> {
  readonly #sessions: SessionSet;
  readonly #tables: TableGuard;
  readonly #listener: Listener;
  // One attempt per semaphore and connection at a time here: the next one must know which slots
  // the previous one took (the statement skips them), and the reply says so.
  readonly #attempts = new Turnstile();
  // One waiter per semaphore at a time joins the server's line from here; the others wait behind it.
  readonly #waits = new Turnstile();
  readonly #hub: ReleaseHub;
  /** The subscription of each channel with local waiters. */
  readonly #listening = new Map<string, Subscription>();
  #sql: SemaphoreSql | undefined;

  constructor(sessions: SessionSet, tables: TableGuard, listener: Listener) {
    this.#sessions = sessions;
    this.#tables = tables;
    this.#listener = listener;
    this.#hub = new ReleaseHub({
      onIdle: (channel) => {
        this.#listening.get(channel)?.close();
        this.#listening.delete(channel);
      },
    });
  }

  tryAcquire(request: AcquireRequest<SemaphoreRef>): Promise<LeaseGrant | null> {
    const place = placeSemaphore(request.lock);
    return this.#attempts.run(place.id, NEVER, () => this.#take(request, place));
  }

  acquire(request: AcquireRequest<SemaphoreRef>, signal: AbortSignal): Promise<LeaseGrant> {
    const place = placeSemaphore(request.lock);
    return this.#waits.run(place.id, signal, () => this.#acquireInTurn(request, place, signal));
  }

  async #acquireInTurn(
    request: AcquireRequest<SemaphoreRef>,
    place: SemaphorePlacement,
    signal: AbortSignal,
  ): Promise<LeaseGrant> {
    // Watched before the first attempt, listened to only once it is refused (most attempts
    // succeed): the listener wakes the watch once the server listens, so a release between the
    // refusal and the LISTEN is not missed.
    const watch = this.#hub.watch(place.channel);
    let granted = false;
    try {
      let grant = await this.tryAcquire(request);
      if (!grant && !this.#listening.has(place.channel)) this.#listen(place);
      const backoff = new Backoff(50, 1_000);
      while (!grant) {
        const connection = await this.#sessions.openWaiting(signal);
        if (connection) {
          grant = await this.#waitAsHead(connection, request, place, watch, signal);
          break;
        }
        // Every waiting slot is taken: re-try on notifications, and at least on the backoff.
        await watch.next(backoff.next(), signal);
        signal.throwIfAborted();
        grant = await this.tryAcquire(request);
      }
      if (signal.aborted) {
        // The grant raced the abort: given back before the abort is reported.
        await grant.release().catch(() => {});
        throw signal.reason;
      }
      granted = true;
      return grant;
    } finally {
      watch.close(granted);
    }
  }

  /**
   * Queues for the head of the line on `connection`, then re-tries there as the head on every
   * wake until a slot is taken. Anything but a grant gives the connection back, which drops the
   * head key (and whatever else the server may hold for it) before the error is reported.
   */
  async #waitAsHead(
    connection: LockConnection,
    request: AcquireRequest<SemaphoreRef>,
    place: SemaphorePlacement,
    watch: LockWatch,
    signal: AbortSignal,
  ): Promise<LeaseGrant> {
    this.#sql ??= new SemaphoreSql(this.#sessions.sql);
    const lease = String(request.ttlMs);
    const queued = connection.run(this.#sql.queue(place, lease), false);
    let cancelling: Promise<void> | undefined;
    const onAbort = () => {
      cancelling = cancelUntilSettled(this.#sessions, connection, queued);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      try {
        await queued;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      await cancelling;
      signal.throwIfAborted();
      connection.applied(this.#sessions.sql.timeouts ? lease : null);
      // The head re-tries at least every third of its TTL: each attempt renews its connection's lease.
      const recheckMs = Math.max(10, Math.floor(request.ttlMs / 3));
      for (;;) {
        const grant = await this.#take(request, place, connection);
        if (grant) return grant;
        await watch.next(recheckMs, signal);
        signal.throwIfAborted();
      }
    } catch (error) {
      await cancelling;
      await connection.giveBack();
      if (signal.aborted) throw signal.reason;
      throw backendFailure('postgres', 'waiting for a permit', error);
    }
  }

  // Listens, then wakes a waiter once the server listens: a release between its failed attempt
  // and the LISTEN notified nobody, so it tries again.
  #listen(place: SemaphorePlacement): void {
    const { channel } = place;
    const wake = () => this.#hub.notify(channel);
    const subscription = this.#listener.subscribe(channel, place.waiting, {
      notified: wake,
      reconnected: wake,
    });
    this.#listening.set(channel, subscription);
    subscription.ready.then(wake, wake);
  }

  /**
   * One attempt on the primary, or — `head`, the waiting connection holding the head key — as
   * the head of the line there.
   */
  async #take(
    request: AcquireRequest<SemaphoreRef>,
    place: SemaphorePlacement,
    head?: LockConnection,
  ): Promise<LeaseGrant | null> {
    let connection = head;
    if (!connection) {
      const current = this.#sessions.session(request.ttlMs);
      connection = (current instanceof Promise ? await current : current).connection;
    }
    const permits = connection.permitsOf(place.id);
    const held: number[] = [];
    for (const permit of permits ?? []) {
      // A session holds one count per semaphore: the lock manager cannot tell its own markers apart.
      if (!sameMarkers(permit.markers, place.markers))
        throw mismatchError(request.lock, 'this coordinator holds permits of it declared with another count');
      held.push(permit.slot);
    }
    this.#sql ??= new SemaphoreSql(this.#sessions.sql);
    const setting = connection.timeoutFor(request.ttlMs);
    const stmt = this.#sql.take(place, held, setting, head !== undefined);
    let row: { slot: number; token: string | null };
    try {
      row = (await this.#tables.run(() => connection.run(stmt))).rows[0];
    } catch (error) {
      // Which of its locks a failed statement took is unknown, and each would stay with the
      // session: the connection is abandoned, and the server frees everything on it.
      const failure = backendFailure('postgres', 'taking a permit', error);
      if (!connection.ended) connection.die(failure);
      throw failure;
    }
    if (row.slot >= 0 && row.token !== null) {
      connection.applied(setting);
      return this.#holdSlot(connection, request, place, row.slot, BigInt(row.token));
    }
    if (row.slot === SLOT.mismatch)
      throw mismatchError(request.lock, 'it is in use by holders that declared another count');
    return null;
  }

  #holdSlot(
    connection: LockConnection,
    request: AcquireRequest<SemaphoreRef>,
    place: SemaphorePlacement,
    slot: number,
    token: bigint,
  ): LeaseGrant | null {
    const key = slotKey(place.slots, slot);
    const placement: LockPlacement = {
      advisory: { kind: 'bigint', key },
      namespace: request.lock.prefixSegment,
      name: request.lock.segment,
      id: pgLocksText({ kind: 'bigint', key }),
    };
    const sql = this.#sql!;
    const release = sql.release(place, slot);
    const lock = connection.claim(request.lock.name, placement, request.ttlMs);
    if (!lock) {
      // The slot's key is also a key this connection holds for something else (a 64-bit hash
      // collision): the permit cannot be told apart from it, so it goes back.
      connection.run(release).catch(() => {});
      return null;
    }
    lock.release = release;
    lock.markers = place.markers;
    lock.group = place.id;
    lock.slot = slot;
    connection.hold(lock);
    return grantFor(lock, token, this.#sessions.sql);
  }
}

function sameMarkers(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((id, i) => id === b[i]);
}

function mismatchError(ref: SemaphoreRef, why: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'permits',
    `semaphore "${ref.name}" cannot be used with ${ref.permits} permits now: ${why} (PostgreSQL semaphores keep the count of their first holder while in use)`,
  );
}
