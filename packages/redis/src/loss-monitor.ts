/**
 * Loss detection beyond renewals. A connection that drops and comes back may find a
 * different server state: a restart without persistence or a failover to a replica that
 * never saw our key. Core's renewal would notice at the next renewal (up to ttl/3
 * later); this notices as soon as the connection is ready again, by asking — in bulk, one MGET
 * per thousand locks, one script per thousand semaphore permits — which live grants are still
 * ours, and tripping the `lost` notice of those that definitely are not.
 * @module
 */
import type { KeyBatch, OwnedKey } from './batch.js';

/** One live grant, as the monitor sees it. */
export interface MonitoredGrant extends OwnedKey {
  /** Trips the grant's `lost` notice. */
  markLost(why: string): void;
}

/** Watches connections and re-verifies live grants after each reconnect. */
export class LossMonitor {
  readonly #grants = new Set<MonitoredGrant>();
  readonly #batches: readonly KeyBatch[];
  readonly #quorum: number;
  readonly #detach: Array<() => void> = [];

  /** `quorum`: how many instances must still hold a key for its lock to be held (1, or Redlock's majority). */
  constructor(batches: readonly KeyBatch[], quorum = 1) {
    this.#batches = batches;
    this.#quorum = quorum;
    for (const { client } of batches) {
      // `ready` fires on the first connect too; there are no grants yet then.
      const onReady = () => void this.verifyAll();
      client.on('ready', onReady);
      this.#detach.push(() => client.off('ready', onReady));
    }
  }

  /** Starts watching a grant; returns the function that stops watching it. */
  track(grant: MonitoredGrant): () => void {
    this.#grants.add(grant);
    return () => this.#grants.delete(grant);
  }

  /** Re-verifies every live grant now. */
  async verifyAll(): Promise<void> {
    const grants = [...this.#grants];
    if (grants.length === 0) return;
    // An instance that cannot answer proves nothing: renewals keep trying until the lease ends.
    const answers = await Promise.all(
      this.#batches.map((batch) => batch.owned(grants).catch(() => undefined)),
    );
    for (const [i, grant] of grants.entries()) {
      const maybeHeld = answers.filter((owned) => owned === undefined || owned[i]).length;
      if (maybeHeld >= this.#quorum || !this.#grants.delete(grant)) continue;
      grant.markLost('the lock key (or permit) was gone or owned by another after the connection came back');
    }
  }

  /** Stops listening to the clients. */
  close(): void {
    for (const detach of this.#detach) detach();
    this.#grants.clear();
  }
}
