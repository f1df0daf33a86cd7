/**
 * The two `BackendDriver`s: single instance and Redlock, over clients that are already
 * connected (or owned by the user). Connections this package opened are closed by
 * `close()`; a user's own client never is (its subscriber duplicate is).
 * @module
 */
import type { BackendDriver } from '@lockstep/core';
import type { Redis } from 'ioredis';
import { REDIS_CAPABILITIES, REDLOCK_CAPABILITIES } from './capabilities.js';
import { subscriberFor } from './connection.js';
import { redisCounters } from './counters.js';
import { LossMonitor } from './loss-monitor.js';
import { redlockLocks } from './redlock.js';
import { ReleaseFeed } from './release-feed.js';
import { type HandoffOptions, singleInstanceLocks } from './single.js';

/** Whether `close()` should disconnect the command client(s). */
export interface Ownership {
  readonly ownsClients: boolean;
}

/** A driver for one Redis server. */
export function singleInstanceDriver(
  client: Redis,
  { ownsClients, handoffMs }: Ownership & HandoffOptions,
): BackendDriver {
  const feed = new ReleaseFeed([subscriberFor(client)], (channel) => locks.waitEnded(channel));
  const monitor = new LossMonitor([client]);
  const locks = singleInstanceLocks(client, feed, monitor, { handoffMs });
  return {
    backend: 'redis',
    capabilities: REDIS_CAPABILITIES,
    locks,
    counters: redisCounters(client),
    close: async () => {
      feed.close();
      monitor.close();
      if (ownsClients) client.disconnect();
    },
  };
}

/** A Redlock driver over independent servers. */
export function redlockDriver(
  clients: readonly Redis[],
  { ownsClients, driftFactor }: Ownership & { readonly driftFactor: number },
): BackendDriver {
  const feed = new ReleaseFeed(clients.map(subscriberFor));
  const monitor = new LossMonitor(clients);
  return {
    backend: 'redlock',
    capabilities: REDLOCK_CAPABILITIES,
    locks: redlockLocks(clients, feed, monitor, driftFactor),
    close: async () => {
      feed.close();
      monitor.close();
      if (ownsClients) for (const client of clients) client.disconnect();
    },
  };
}
