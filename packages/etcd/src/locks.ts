/**
 * `LockDriver` for etcd: enqueue in one transaction, wait on the predecessor's delete, re-check.
 * Core adds everything above it (validation, timeouts, handles, renewal scheduling).
 * @module
 */
import {
  type AcquireRequest,
  BackendUnavailableError,
  jitter,
  type LeaseGrant,
  type LockDriver,
  type NativeLockLocation,
  sleep,
} from '@lockstep/core';
import { isLeaseNotFound, unavailable } from './errors.js';
import { EtcdGrant, type GrantContext } from './grant.js';
import { lockQueue, memberKey, validateNativePrefix } from './keys.js';
import {
  type Contender,
  type Enqueued,
  enqueue,
  type Position,
  recheck,
  remove,
  tryEnqueue,
} from './queue.js';
import type { LeaseSession } from './session.js';

/** The fallback re-check of a waiter: a safety net under the watch, never the mechanism. */
export const WAIT_RECHECK = { initialMs: 250, maxMs: 2_000 } as const;

/** One acquire's session and key. */
interface Attempt {
  readonly session: LeaseSession;
  readonly exclusive: boolean;
  readonly contender: Contender;
}

/** Lock operations over one coordinator's sessions, watch stream and sweeper. */
export class EtcdLocks implements LockDriver {
  readonly #ctx: GrantContext;

  constructor(ctx: GrantContext) {
    this.#ctx = ctx;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePrefix(native);
  }

  async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    for (let retry = 0; ; retry++) {
      const attempt = await this.#begin(request);
      let token: bigint | undefined;
      try {
        token = await tryEnqueue(this.#ctx.rpc, attempt.contender, attempt.session.id);
      } catch (error) {
        if (this.#leaseVanished(attempt, error) && retry === 0) continue;
        this.#discard(attempt, undefined);
        throw unavailable('try-acquire', error);
      }
      if (token === undefined) {
        this.#ctx.sessions.done(attempt.session, attempt.exclusive);
        return null;
      }
      return this.#grant(attempt, token);
    }
  }

  async acquire(request: AcquireRequest, signal: AbortSignal): Promise<LeaseGrant> {
    signal.throwIfAborted();
    for (let retry = 0; ; retry++) {
      const attempt = await this.#begin(request);
      let enqueued: Enqueued;
      try {
        enqueued = await enqueue(this.#ctx.rpc, attempt.contender, attempt.session.id);
      } catch (error) {
        if (this.#leaseVanished(attempt, error) && retry === 0) continue;
        this.#discard(attempt, undefined);
        throw unavailable('enqueue', error);
      }
      try {
        await this.#waitTurn(attempt, enqueued, signal);
        // The grant may have raced an abort: the caller has gone, so give it back.
        signal.throwIfAborted();
      } catch (error) {
        await this.#withdraw(attempt, enqueued.token);
        throw signal.aborted ? signal.reason : error;
      }
      return this.#grant(attempt, enqueued.token);
    }
  }

  /** Picks (or grants) the lease and names our key. */
  async #begin(request: AcquireRequest): Promise<Attempt> {
    const { queue, native } = lockQueue(request.lock);
    const { sessions } = this.#ctx;
    const session = native ? sessions.exclusive(request.ttlMs) : sessions.shared(request.ttlMs);
    sessions.use(session);
    let leaseId: bigint;
    try {
      leaseId = await session.ready;
    } catch (error) {
      sessions.done(session, native);
      throw unavailable('lease grant', error);
    }
    return {
      session,
      exclusive: native,
      contender: { queue, key: memberKey({ queue, native }, request.ownerId, leaseId) },
    };
  }

  /** A put refused for "lease not found": the session is gone; the caller retries once on a fresh one. */
  #leaseVanished(attempt: Attempt, error: unknown): boolean {
    if (!isLeaseNotFound(error)) return false;
    attempt.session.markLost('a put on it was refused (lease not found)', error);
    this.#ctx.sessions.done(attempt.session, attempt.exclusive);
    return true;
  }

  /**
   * Waits until our key is the oldest in the queue. Returns when we hold the lock; throws
   * when our key or its lease is gone; returns early (the caller checks) when `signal` aborts.
   */
  async #waitTurn(attempt: Attempt, enqueued: Enqueued, signal: AbortSignal): Promise<void> {
    const { rpc, watches } = this.#ctx;
    const { session, contender } = attempt;
    let position: Position = enqueued.position;
    let fallbackMs: number = WAIT_RECHECK.initialMs;
    for (;;) {
      if (signal.aborted) return;
      if (session.lost.aborted) throw lostWhileQueued(session.lost.reason);
      if (position.kind === 'owner') return;
      if (position.kind === 'gone') throw lostWhileQueued(new Error('our queue key was deleted'));
      // Watch the key just ahead of us — and our own: if our lease expires while we wait,
      // our key's delete wakes us instead of the predecessor's, which may be far off (etcd #19597).
      const ticket = watches.watchDeletes(
        [position.predecessor, rpc.key(contender.key)],
        position.seenAt + 1n,
      );
      const wake = await firstOf(ticket.woken, jitter(fallbackMs), signal, session.lost);
      ticket.cancel();
      fallbackMs = wake === 'deleted' ? WAIT_RECHECK.initialMs : Math.min(fallbackMs * 2, WAIT_RECHECK.maxMs);
      if (signal.aborted || session.lost.aborted) continue;
      position = await this.#recheckPatiently(attempt, enqueued.token, signal);
    }
  }

  /** Re-reads our position, retrying through transient failures for as long as our lease lives. */
  async #recheckPatiently(attempt: Attempt, token: bigint, signal: AbortSignal): Promise<Position> {
    let pauseMs = 50;
    for (;;) {
      try {
        return await recheck(this.#ctx.rpc, attempt.contender, token);
      } catch (error) {
        if (signal.aborted || attempt.session.lost.aborted) return { kind: 'gone' };
        if (isLeaseNotFound(error))
          attempt.session.markLost('a re-check was refused (lease not found)', error);
        await sleep(jitter(pauseMs), AbortSignal.any([signal, attempt.session.lost]));
        pauseMs = Math.min(pauseMs * 2, 1_000);
      }
    }
  }

  /** Leaves the queue: deletes our key now, or hands it to the sweeper if etcd cannot be reached. */
  async #withdraw(attempt: Attempt, token: bigint): Promise<void> {
    const { rpc, sessions } = this.#ctx;
    try {
      await remove(rpc, attempt.contender.key, token);
      sessions.done(attempt.session, attempt.exclusive);
    } catch {
      this.#discard(attempt, token);
    }
  }

  /** A key whose put or delete had an unknown outcome: delete it in the background. */
  #discard(attempt: Attempt, token: bigint | undefined): void {
    const { sweeper, sessions } = this.#ctx;
    sweeper.add(attempt.contender.key, token, attempt.session, () =>
      sessions.done(attempt.session, attempt.exclusive),
    );
  }

  #grant(attempt: Attempt, token: bigint): LeaseGrant {
    return new EtcdGrant(this.#ctx, attempt.session, attempt.exclusive, attempt.contender.key, token);
  }
}

function lostWhileQueued(cause: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    'etcd',
    'the lease of this waiter ended while it was queued (its key is gone), so the acquire failed instead of waiting on',
    { cause },
  );
}

/** Resolves with what happened first: the watch woke, the fallback timer ran out, or a signal aborted. */
function firstOf(
  woken: Promise<{ reason: string }>,
  fallbackMs: number,
  ...signals: AbortSignal[]
): Promise<'deleted' | 'broken' | 'timer' | 'aborted'> {
  return new Promise((resolve) => {
    const stop = AbortSignal.any(signals);
    if (stop.aborted) return resolve('aborted');
    const finish = (what: 'deleted' | 'broken' | 'timer' | 'aborted') => {
      clearTimeout(timer);
      stop.removeEventListener('abort', onAbort);
      resolve(what);
    };
    const onAbort = () => finish('aborted');
    const timer = setTimeout(() => finish('timer'), fallbackMs);
    timer.unref();
    stop.addEventListener('abort', onAbort, { once: true });
    woken.then((w) => finish(w.reason === 'deleted' ? 'deleted' : 'broken'));
  });
}
