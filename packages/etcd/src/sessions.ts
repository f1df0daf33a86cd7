/**
 * The sessions of one coordinator: one shared lease per TTL for lockstep's own locks, and a
 * lease of its own for each native acquire in flight (the native layout names a contender by
 * its lease id, so two native acquires on one lease would share a key — and both "hold" it).
 *
 * A native acquire's lease goes back to a small spare list when its key is gone, so the next
 * native acquire reuses it — and its key name. (etcd keeps each deleted key in its index until
 * the next compaction, and every queue read visits them: fresh names would pile up.)
 *
 * A lost session is replaced on the next acquire; an idle one (no key on it for
 * {@link IDLE_REVOKE_MS}) is revoked so a long-lived coordinator does not keep leases alive
 * that it no longer uses.
 * @module
 */
import { KeepAliveChannel } from './keepalive.js';
import type { EtcdRpc } from './rpc.js';
import { LeaseSession } from './session.js';

/** How long a lease with no key on it is kept before it is revoked. */
export const IDLE_REVOKE_MS = 30_000;

/** Most spare native-acquire leases kept per TTL. */
export const MAX_SPARE_EXCLUSIVE = 4;

/** One acquire's place: the session its key is named after (and first put on), and its slot. */
export interface Seat {
  readonly session: LeaseSession;
  /** A lease of its own (native layout): revoked when the key is gone. */
  readonly exclusive: boolean;
  readonly queue: string;
  readonly slot: number;
}

/** Hands out sessions and closes them all on `close()`. */
export class SessionPool {
  readonly #rpc: EtcdRpc;
  readonly #channel: KeepAliveChannel;
  readonly #shared = new Map<number, LeaseSession>();
  readonly #all = new Set<LeaseSession>();
  /** Spare exclusive sessions per TTL (no key on them), newest last. */
  readonly #spare = new Map<number, LeaseSession[]>();
  /** Sessions with no key on them, and since when (`performance.now()`). */
  readonly #idleSince = new Map<LeaseSession, number>();
  /** One timer for all idle sessions, so a release costs no timer of its own. */
  #idleSweep: NodeJS.Timeout | undefined;
  readonly #revoking = new Set<Promise<void>>();

  constructor(rpc: EtcdRpc) {
    this.#rpc = rpc;
    this.#channel = new KeepAliveChannel(rpc);
  }

  /**
   * A seat for one acquire in `queue`: on the coordinator's shared session for `ttlMs`
   * (granted on first use and after a loss), or on a session of its own (a spare, or new).
   */
  take(ttlMs: number, queue: string, exclusive: boolean): Seat {
    const session = exclusive ? this.#exclusiveSession(ttlMs) : this.#sharedSession(ttlMs);
    this.use(session);
    return { session, exclusive, queue, slot: session.claimSlot(queue) };
  }

  /**
   * The seat's key is certainly gone: its slot is free again, and `current` (the session the
   * key lived on last) loses a user — and may go idle (an exclusive one becomes a spare).
   */
  leave(seat: Seat, current: LeaseSession = seat.session): void {
    seat.session.releaseSlot(seat.queue, seat.slot);
    this.unuse(current, seat.exclusive);
  }

  /** Marks one more key on `session`. */
  use(session: LeaseSession): void {
    session.retain();
    this.#idleSince.delete(session);
  }

  /** Marks one key fewer on `session`. */
  unuse(session: LeaseSession, exclusive: boolean): void {
    session.unretain();
    if (session.users > 0 || !session.usable) return;
    if (exclusive) {
      const spare = this.#spare.get(session.ttlMs) ?? [];
      if (spare.length >= MAX_SPARE_EXCLUSIVE) {
        this.#retire(session);
        return;
      }
      spare.push(session);
      this.#spare.set(session.ttlMs, spare);
    }
    this.#idleSince.set(session, performance.now());
    this.#idleSweep ??= setInterval(() => this.#revokeIdle(), IDLE_REVOKE_MS / 3).unref();
  }

  /** The shared session for `ttlMs` (used when a held key moves to another TTL). */
  sharedSession(ttlMs: number): LeaseSession {
    return this.#sharedSession(ttlMs);
  }

  /** Revokes every lease (deleting every key still on them) and ends the keep-alive stream. */
  async close(): Promise<void> {
    clearInterval(this.#idleSweep);
    this.#idleSweep = undefined;
    this.#idleSince.clear();
    this.#shared.clear();
    this.#spare.clear();
    await Promise.allSettled([...[...this.#all].map((s) => s.close()), ...this.#revoking]);
    this.#all.clear();
    this.#channel.close();
  }

  #sharedSession(ttlMs: number): LeaseSession {
    const current = this.#shared.get(ttlMs);
    if (current?.usable) return current;
    const session = this.#create(ttlMs);
    this.#shared.set(ttlMs, session);
    return session;
  }

  #exclusiveSession(ttlMs: number): LeaseSession {
    const spare = this.#spare.get(ttlMs);
    while (spare && spare.length > 0) {
      const session = spare.pop()!;
      if (session.usable) return session;
    }
    return this.#create(ttlMs);
  }

  #create(ttlMs: number): LeaseSession {
    const session = new LeaseSession(this.#rpc, this.#channel, ttlMs);
    this.#all.add(session);
    const forget = () => {
      this.#all.delete(session);
      this.#idleSince.delete(session);
      this.#dropSpare(session);
      if (this.#shared.get(ttlMs) === session) this.#shared.delete(ttlMs);
    };
    session.lost.addEventListener('abort', forget, { once: true });
    return session;
  }

  #revokeIdle(): void {
    const now = performance.now();
    for (const [session, since] of this.#idleSince) {
      if (session.users > 0 || now - since < IDLE_REVOKE_MS) continue;
      this.#idleSince.delete(session);
      this.#dropSpare(session);
      if (this.#shared.get(session.ttlMs) === session) this.#shared.delete(session.ttlMs);
      this.#retire(session);
    }
    if (this.#idleSince.size === 0) {
      clearInterval(this.#idleSweep);
      this.#idleSweep = undefined;
    }
  }

  #dropSpare(session: LeaseSession): void {
    const spare = this.#spare.get(session.ttlMs);
    const i = spare?.indexOf(session) ?? -1;
    if (i >= 0) spare!.splice(i, 1);
  }

  #retire(session: LeaseSession): void {
    this.#all.delete(session);
    const revoking = session.close();
    this.#revoking.add(revoking);
    void revoking.finally(() => this.#revoking.delete(revoking));
  }
}
