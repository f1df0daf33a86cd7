/**
 * The sessions of one coordinator: one per lease length, created on first use (one request,
 * shared by every acquire that asks meanwhile), replaced after it is lost, retired after a
 * while with nothing on it, and closed with the coordinator.
 *
 * Why one per TTL: a session's lease length is the lease of every lock on it, so locks with
 * different TTLs cannot share one. Why retire: a long-lived coordinator that once used a TTL
 * should not keep that session alive forever.
 * @module
 */
import type { Session, SessionMember } from './session.js';

/** How long a session with nothing on it is kept (at least two of its TTLs). Default 30 s. */
export const DEFAULT_IDLE_RETIRE_MS = 30_000;

/** Options of {@link SessionPool}. */
export interface SessionPoolOptions<S> {
  /** Creates a session for `ttlMs` (one round trip: the grant of a lease, a session). */
  readonly create: (ttlMs: number) => Promise<S>;
  /** See {@link DEFAULT_IDLE_RETIRE_MS}. */
  readonly idleRetireMs?: number;
}

/** Sessions by TTL. */
export class SessionPool<S extends Session<SessionMember>> {
  readonly #create: (ttlMs: number) => Promise<S>;
  readonly #idleRetireMs: number;
  readonly #current = new Map<number, S>();
  readonly #creating = new Map<number, Promise<S>>();
  readonly #all = new Set<S>();
  readonly #closing = new Set<Promise<void>>();
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SessionPoolOptions<S>) {
    this.#create = options.create;
    this.#idleRetireMs = options.idleRetireMs ?? DEFAULT_IDLE_RETIRE_MS;
  }

  /**
   * The live session for `ttlMs` when there is one — synchronously, so the hot path does not
   * wait a turn of the event loop — else `undefined` (call {@link session}).
   */
  current(ttlMs: number): S | undefined {
    const session = this.#current.get(ttlMs);
    return session?.live ? session : undefined;
  }

  /** The live session for `ttlMs`, created when there is none. */
  session(ttlMs: number): Promise<S> {
    const current = this.current(ttlMs);
    if (current) return Promise.resolve(current);
    if (this.#closed) return Promise.reject(new Error('the coordinator was closed'));
    let creating = this.#creating.get(ttlMs);
    if (!creating) {
      creating = this.#open(ttlMs).finally(() => this.#creating.delete(ttlMs));
      this.#creating.set(ttlMs, creating);
    }
    return creating;
  }

  /** Every session not yet closed (for tests and renewal-cost figures). */
  get sessions(): readonly S[] {
    return [...this.#all];
  }

  /** Closes every session (after the coordinator released its locks). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    await Promise.allSettled([...this.#creating.values()]);
    const sessions = [...this.#all];
    this.#all.clear();
    this.#current.clear();
    await Promise.allSettled([...sessions.map((s) => s.close()), ...this.#closing]);
  }

  async #open(ttlMs: number): Promise<S> {
    const session = await this.#create(ttlMs);
    if (this.#closed) {
      await session.close();
      throw new Error('the coordinator was closed');
    }
    const previous = this.#current.get(ttlMs);
    if (previous && previous !== session) this.#retire(previous);
    this.#current.set(ttlMs, session);
    this.#all.add(session);
    session.lost.addEventListener('abort', () => this.#forget(session), { once: true });
    this.#sweep ??= setInterval(() => this.#retireIdle(), this.#idleRetireMs / 3);
    this.#sweep.unref();
    return session;
  }

  #forget(session: S): void {
    this.#all.delete(session);
    if (this.#current.get(session.ttlMs) === session) this.#current.delete(session.ttlMs);
  }

  #retireIdle(): void {
    for (const session of [...this.#all]) {
      if (session.idleMs > Math.max(this.#idleRetireMs, 2 * session.ttlMs)) this.#retire(session);
    }
    if (this.#all.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  #retire(session: S): void {
    this.#forget(session);
    const closing = session.close();
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }
}
