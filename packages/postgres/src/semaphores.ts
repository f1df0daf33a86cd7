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
 * **Waiting** is try-then-wait: a waiter's coordinator listens on the semaphore's channel
 * (holding its waiting marker while it does), and a release notifies the channel in its own
 * statement only when the marker shows a listener — a release with nobody waiting writes
 * nothing. Each coordinator wakes its longest-waiting local waiter; any waiter may win
 * (`fairness: 'none'`).
 * @module
 */
import { setMaxListeners } from 'node:events';
import { InvalidArgumentError } from '@lockstep/core';
import {
  type AcquireRequest,
  backendFailure,
  type LeaseGrant,
  type LockDriver,
  type LockWatch,
  ReleaseHub,
  type SemaphoreRef,
} from '@lockstep/core/driver';
import { grantFor } from './grant.js';
import { type LockPlacement, pgLocksText, placeSemaphore, type SemaphorePlacement, slotKey } from './keys.js';
import type { Listener, Subscription } from './listener.js';
import type { TableGuard } from './schema.js';
import type { LockConnection } from './session.js';
import type { SessionSet } from './sessions.js';
import { idleTimeoutCall, type LockSql, type Statement } from './sql.js';
import { Turnstile } from './turnstile.js';

/** What the grant statement found, in its `slot` column. */
const SLOT = { mismatch: -1, full: -4 } as const;

/** The grant and release statements of semaphores, for one schema's token sequence. */
export class SemaphoreSql {
  readonly #sql: LockSql;

  constructor(sql: LockSql) {
    this.#sql = sql;
  }

  /**
   * One attempt (see the module comment). Columns: `slot` (the slot taken, or a negative
   * verdict), `token` (text, when a slot was taken), `pid`. `idleTimeout` is set only on a grant.
   */
  take(place: SemaphorePlacement, held: readonly number[], idleTimeout: string | null): Statement {
    const setting = this.#sql.timeouts && idleTimeout !== null;
    const stmt = this.#sql.prepared(
      `semaphore_take${setting ? '_timeout' : ''}`,
      // Every step is a CASE branch: CASE is the one construct whose evaluation order SQL
      // promises, and each step must see the one before it. The markers are waited for, not
      // tried: the grant before this one frees its transaction's locks in no set order, so the
      // gate may come free before the markers that grant checked exclusively. A shared wait
      // outlasts such a leftover (the rest of that commit); then only another session's share
      // of an opposite marker makes the exclusive try fail. (The wait and the try are a CASE,
      // not an AND, which the planner may reorder by cost.)
      () => `SELECT v.slot, CASE WHEN v.slot >= 0 THEN ${this.#sql.nextToken}::text END AS token,
  CASE WHEN v.slot IN (${SLOT.mismatch}, ${SLOT.full})
    THEN (SELECT count(*) FROM unnest($2::bigint[]) k WHERE pg_advisory_unlock_shared(k)) END AS markers_back,
  pg_backend_pid() AS pid${setting ? `, CASE WHEN v.slot >= 0 THEN ${idleTimeoutCall(7)} END AS t` : ''}
FROM (SELECT CASE
  WHEN pg_advisory_xact_lock($1::bigint)::text <> '' THEN -9
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
    ];
    if (setting) values.push(idleTimeout);
    return { ...stmt, values };
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

/** The semaphores of one coordinator: permits on the primary, waits on the listener. */
export class PostgresSemaphores implements LockDriver<SemaphoreRef> {
  readonly #sessions: SessionSet;
  readonly #tables: TableGuard;
  readonly #listener: Listener;
  // One attempt per semaphore at a time here: the next one must know which slots the previous
  // one took (the statement skips them), and the reply says so.
  readonly #attempts = new Turnstile();
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

  // Core opens a watch before every first attempt, and most attempts succeed: the channel is
  // only listened to once a waiter really waits (its attempt failed).
  watch(ref: SemaphoreRef): LockWatch {
    const place = placeSemaphore(ref);
    const watch = this.#hub.watch(place.channel);
    return {
      next: (maxMs, signal) => {
        if (!this.#listening.has(place.channel)) this.#listen(place);
        return watch.next(maxMs, signal);
      },
      close: (granted) => watch.close(granted),
    };
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

  async #take(request: AcquireRequest<SemaphoreRef>, place: SemaphorePlacement): Promise<LeaseGrant | null> {
    const current = this.#sessions.session(request.ttlMs);
    const session = current instanceof Promise ? await current : current;
    const connection = session.connection;
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
    const stmt = this.#sql.take(place, held, setting);
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
