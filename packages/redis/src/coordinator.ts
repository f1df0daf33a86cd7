/**
 * Building coordinators: from a URL (connections owned and closed by lockstep) or from the
 * application's own ioredis client(s) (never closed by lockstep). The two drivers — one server,
 * or Redlock over several — share the release feed (one subscriber connection per server), the
 * bulk renewals and the loss monitor; only their lock recipes differ, and only one server has
 * semaphores, read-write locks, elections and counters.
 * @module
 */
import { type Coordinator, InvalidArgumentError } from '@lockstep/core';
import { type BackendDriver, createCoordinator, formatHost } from '@lockstep/core/driver';
import type { Redis } from 'ioredis';
import { KeyBatch } from './batch.js';
import { REDIS_CAPABILITIES, REDLOCK_CAPABILITIES } from './capabilities.js';
import { commandClient, connectWithin, subscriberFor } from './connection.js';
import { redisCounters } from './counters.js';
import { singleInstanceElections } from './elections.js';
import { connectFailure, type EndpointFailure } from './errors.js';
import { singleInstanceLocks } from './locks.js';
import { LossMonitor } from './loss-monitor.js';
import {
  REDIS_COORDINATOR_OPTION_NAMES,
  REDLOCK_COORDINATOR_OPTION_NAMES,
  type RedisConnectOptions,
  type RedisCoordinatorOptions,
  type RedlockCoordinatorOptions,
  resolveOptions,
} from './options.js';
import { collectQuorum, quorumOf } from './quorum.js';
import { singleInstanceReadWriteLocks } from './read-write.js';
import { redlockLocks } from './redlock.js';
import { ReleaseFeed } from './release-feed.js';
import { singleInstanceSemaphores } from './semaphores.js';
import { parseRedisUrl } from './url.js';

/**
 * A `redis` coordinator over your own connected ioredis client. lockstep adds one
 * connection of its own (`client.duplicate()`, for pub/sub) and closes only that one;
 * `coordinator.close()` leaves your client open.
 *
 * For bounded failure your client should fail commands rather than queue them while
 * disconnected (`enableOfflineQueue: false`, `maxRetriesPerRequest: 0`) and set a
 * `commandTimeout`; with ioredis's defaults an acquire or release during an outage waits
 * for the reconnect.
 * @throws InvalidArgumentError when `client` is not an ioredis client or the prefix is bad.
 */
export function redisCoordinator(client: Redis, options: RedisCoordinatorOptions = {}): Coordinator {
  assertClient(client, 'client');
  const { prefix, handoffMs } = resolveOptions(
    options,
    REDIS_COORDINATOR_OPTION_NAMES,
    'redisCoordinator options',
  );
  return createCoordinator(singleInstanceDriver(client, false, handoffMs), { prefix });
}

/**
 * A `redlock` coordinator over your own ioredis clients, one per independent Redis server
 * (use an odd number, 3 or 5). Your clients are never closed by lockstep.
 * @throws InvalidArgumentError when `clients` is empty or holds something else.
 */
export function redlockCoordinator(
  clients: readonly Redis[],
  options: RedlockCoordinatorOptions = {},
): Coordinator {
  if (!Array.isArray(clients) || clients.length === 0) {
    throw new InvalidArgumentError('clients', 'must be a non-empty array of ioredis clients');
  }
  for (const [i, client] of clients.entries()) assertClient(client, `clients[${i}]`);
  const { prefix, driftFactor } = resolveOptions(
    options,
    REDLOCK_COORDINATOR_OPTION_NAMES,
    'redlockCoordinator options',
  );
  return createCoordinator(redlockDriver(clients, false, driftFactor), { prefix });
}

/**
 * `connect()` for our schemes: everything is validated before the first connection is
 * opened, and a failure to connect closes what was opened.
 */
export async function connectFromUrl(url: URL, options: RedisConnectOptions): Promise<Coordinator> {
  const resolved = resolveOptions(options);
  const target = parseRedisUrl(url);
  const isRedlock = url.protocol.toLowerCase() === 'redlock:';
  const clients = target.endpoints.map((endpoint) => commandClient(target, endpoint, resolved));
  const driver = isRedlock
    ? redlockDriver(clients, true, resolved.driftFactor)
    : singleInstanceDriver(clients[0]!, true, resolved.handoffMs);
  const coordinator = createCoordinator(driver, { prefix: resolved.prefix });

  // Redlock runs with a quorum; instances that fail keep reconnecting in the background. It
  // gives up as soon as too many failed to make a quorum, but on success waits for every
  // attempt to end: a lock taken while an instance is still connecting would be held by a bare
  // quorum, and one instance lost later would lose it.
  const needed = isRedlock ? quorumOf(clients.length) : 1;
  const addresses = target.endpoints.map(formatHost);
  /** Per endpoint: connected, failed (with the error), or still connecting (undefined). */
  const outcomes: Array<'connected' | EndpointFailure | undefined> = [];
  const attempts = clients.map((client, i) =>
    connectWithin(client, resolved.connectTimeoutMs).then(
      () => {
        outcomes[i] = 'connected';
        return true;
      },
      (error: unknown) => {
        outcomes[i] = { address: addresses[i]!, error };
        throw error;
      },
    ),
  );
  const round = await collectQuorum(attempts, needed, () => true);
  if (round.decision !== 'yes') {
    await coordinator.close();
    throw connectFailure({
      backend: isRedlock ? 'redlock' : 'redis',
      scheme: url.protocol.slice(0, -1).toLowerCase(),
      failures: outcomes.filter((o) => typeof o === 'object'),
      stillConnecting: addresses.filter((_, i) => outcomes[i] === undefined),
      connected: round.yes.length,
      instances: clients.length,
      needed,
      passwordGiven: target.password !== undefined,
    });
  }
  await Promise.allSettled(attempts);
  return coordinator;
}

/** A driver for one Redis server; `ownsClient`: `close()` disconnects it. */
function singleInstanceDriver(client: Redis, ownsClient: boolean, handoffMs: number): BackendDriver {
  const batch = new KeyBatch(client);
  const feed = new ReleaseFeed([subscriberFor(client)], (channel) => locks.waitEnded(channel));
  const monitor = new LossMonitor([batch]);
  const locks = singleInstanceLocks(batch, feed, monitor, handoffMs);
  return {
    backend: 'redis',
    capabilities: REDIS_CAPABILITIES,
    locks,
    semaphores: singleInstanceSemaphores(batch, feed, monitor),
    readWriteLocks: singleInstanceReadWriteLocks(batch, feed, monitor),
    elections: singleInstanceElections(batch, feed, monitor),
    counters: redisCounters(client),
    close: async () => {
      feed.close();
      monitor.close();
      if (ownsClient) client.disconnect();
    },
  };
}

/** A Redlock driver over independent servers; `ownsClients`: `close()` disconnects them. */
function redlockDriver(clients: readonly Redis[], ownsClients: boolean, driftFactor: number): BackendDriver {
  const batches = clients.map((client) => new KeyBatch(client));
  const feed = new ReleaseFeed(clients.map(subscriberFor));
  const monitor = new LossMonitor(batches, quorumOf(clients.length));
  return {
    backend: 'redlock',
    capabilities: REDLOCK_CAPABILITIES,
    locks: redlockLocks(batches, feed, monitor, driftFactor),
    close: async () => {
      feed.close();
      monitor.close();
      if (ownsClients) for (const client of clients) client.disconnect();
    },
  };
}

function assertClient(client: unknown, what: string): void {
  const c = client as Partial<Redis> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.evalsha !== 'function' ||
    typeof c.duplicate !== 'function'
  ) {
    throw new InvalidArgumentError(what, 'must be an ioredis client (new Redis(...))');
  }
}
