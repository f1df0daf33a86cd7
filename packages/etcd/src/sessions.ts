/**
 * The sessions of one coordinator: one shared lease per TTL for lockstep's own locks, and a
 * lease of its own for each native acquire (the native layout names a contender by its lease
 * id, so two native acquires on one lease would share a key — and both "hold" it).
 *
 * A lost shared session is replaced on the next acquire; an idle one (no key on it for
 * {@link IDLE_REVOKE_MS}) is revoked so a long-lived coordinator does not keep leases alive
 * for TTLs it no longer uses.
 * @module
 */
import { KeepAliveChannel } from './keepalive.js';
import type { EtcdRpc } from './rpc.js';
import { LeaseSession } from './session.js';

/** How long a shared lease with no key on it is kept before it is revoked. */
export const IDLE_REVOKE_MS = 30_000;

/** Hands out sessions and closes them all on `close()`. */
export class SessionPool {
  readonly #rpc: EtcdRpc;
  readonly #channel: KeepAliveChannel;
  readonly #shared = new Map<number, LeaseSession>();
  readonly #all = new Set<LeaseSession>();
  readonly #idleTimers = new Map<LeaseSession, NodeJS.Timeout>();
  readonly #revoking = new Set<Promise<void>>();

  constructor(rpc: EtcdRpc) {
    this.#rpc = rpc;
    this.#channel = new KeepAliveChannel(rpc);
  }

  /** The coordinator's shared session for `ttlMs`, granted on first use (and after a loss). */
  shared(ttlMs: number): LeaseSession {
    const current = this.#shared.get(ttlMs);
    if (current?.usable) return current;
    const session = this.#create(ttlMs);
    this.#shared.set(ttlMs, session);
    return session;
  }

  /** A session nobody else uses (for one native acquire); revoke it with {@link SessionPool.retire}. */
  exclusive(ttlMs: number): LeaseSession {
    return this.#create(ttlMs);
  }

  /** Marks one key on `session` as gone; an exclusive session is revoked, a shared one may go idle. */
  done(session: LeaseSession, exclusive: boolean): void {
    session.unretain();
    if (exclusive) {
      this.#retire(session);
      return;
    }
    if (session.users === 0 && !this.#idleTimers.has(session)) {
      const timer = setTimeout(() => {
        this.#idleTimers.delete(session);
        if (session.users > 0) return;
        if (this.#shared.get(session.ttlMs) === session) this.#shared.delete(session.ttlMs);
        this.#retire(session);
      }, IDLE_REVOKE_MS);
      timer.unref();
      this.#idleTimers.set(session, timer);
    }
  }

  /** Marks one more key on `session`. */
  use(session: LeaseSession): void {
    session.retain();
    const idle = this.#idleTimers.get(session);
    if (idle) {
      clearTimeout(idle);
      this.#idleTimers.delete(session);
    }
  }

  /** Revokes every lease (deleting every key still on them) and ends the keep-alive stream. */
  async close(): Promise<void> {
    for (const timer of this.#idleTimers.values()) clearTimeout(timer);
    this.#idleTimers.clear();
    this.#shared.clear();
    await Promise.allSettled([...[...this.#all].map((s) => s.close()), ...this.#revoking]);
    this.#all.clear();
    this.#channel.close();
  }

  #create(ttlMs: number): LeaseSession {
    const session = new LeaseSession(this.#rpc, this.#channel, ttlMs);
    this.#all.add(session);
    const forget = () => {
      this.#all.delete(session);
      if (this.#shared.get(ttlMs) === session) this.#shared.delete(ttlMs);
    };
    session.lost.addEventListener('abort', forget, { once: true });
    return session;
  }

  #retire(session: LeaseSession): void {
    this.#all.delete(session);
    const revoking = session.close();
    this.#revoking.add(revoking);
    void revoking.finally(() => this.#revoking.delete(revoking));
  }
}
