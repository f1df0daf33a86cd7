/**
 * Loss detection beyond renewals. A connection that drops and comes back may find a
 * different server state: a restart without persistence or a failover to a replica that
 * never saw our key. Core's renewal would notice at the next renewal (up to ttl/3
 * later); this notices as soon as the connection is ready again, by asking whether each
 * live grant is still ours and aborting its `lost` signal when it is definitely not.
 * @module
 */
import type { Redis } from 'ioredis';

/** One live grant, as the monitor sees it. */
export interface MonitoredGrant {
  /** Resolves true when still ours; rejects when it cannot tell (unreachable). */
  stillHeld(): Promise<boolean>;
  /** Aborts the grant's `lost` signal. */
  markLost(why: string): void;
}

/** Watches connections and re-verifies live grants after each reconnect. */
export class LossMonitor {
  readonly #grants = new Set<MonitoredGrant>();
  readonly #detach: Array<() => void> = [];

  constructor(clients: readonly Redis[]) {
    for (const client of clients) {
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
    await Promise.allSettled(
      [...this.#grants].map(async (grant) => {
        // An unreachable backend proves nothing: renewals keep trying until the lease ends.
        const held = await grant.stillHeld().catch(() => true);
        if (!held && this.#grants.has(grant)) {
          this.#grants.delete(grant);
          grant.markLost('the lock key was gone or owned by another after the connection came back');
        }
      }),
    );
  }

  /** Stops listening to the clients. */
  close(): void {
    for (const detach of this.#detach) detach();
    this.#grants.clear();
  }
}
