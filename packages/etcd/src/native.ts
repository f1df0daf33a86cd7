/**
 * Leases for native locks. A native lock uses the layout of etcd's `concurrency.Mutex` and
 * `etcdctl lock`, which names a contender by its lease id alone (`PREFIX/<lease hex>`), so one
 * lease can carry only one contender of each native lock. The first rides on the coordinator's
 * shared lease like any other key; a second acquire of the same native lock from the same
 * coordinator, while the first is still held or queued, takes one of these extra leases.
 *
 * An extra lease is kept while idle and reused by the next such acquire, and so is its key name
 * (etcd keeps each deleted key in its index until the next compaction, and every queue read
 * visits them: fresh names would pile up); after a while with no key on it, it is revoked.
 * @module
 */
import { DEFAULT_IDLE_RETIRE_MS } from '@lockstep/core/driver';
import type { EtcdSession } from './session.js';

/** The extra leases of one coordinator, by TTL. */
export class ExtraLeases {
  readonly #grant: (ttlMs: number) => Promise<EtcdSession>;
  readonly #leases = new Set<EtcdSession>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(grant: (ttlMs: number) => Promise<EtcdSession>) {
    this.#grant = grant;
  }

  /** A live extra lease of `ttlMs` with slot 0 of `queue` free: one already granted, or a new one. */
  async lease(ttlMs: number, queue: string): Promise<EtcdSession> {
    for (const lease of this.#leases) {
      if (lease.ttlMs === ttlMs && lease.live && lease.slotFree(queue)) return lease;
    }
    const lease = await this.#grant(ttlMs);
    this.#leases.add(lease);
    this.#sweep ??= setInterval(() => this.#retireIdle(), DEFAULT_IDLE_RETIRE_MS / 3).unref();
    return lease;
  }

  /** Revokes every extra lease (and the keys still on them). */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    const leases = [...this.#leases];
    this.#leases.clear();
    await Promise.allSettled(leases.map((lease) => lease.close()));
  }

  #retireIdle(): void {
    for (const lease of this.#leases) {
      if (lease.live && lease.idleMs < DEFAULT_IDLE_RETIRE_MS) continue;
      this.#leases.delete(lease);
      void lease.close();
    }
    if (this.#leases.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }
}
