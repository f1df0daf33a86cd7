/**
 * Building coordinators: from a URL (connections owned and closed by lockstep) or from the
 * application's own ioredis client(s) (never closed by lockstep).
 * @module
 */
import {
  type Coordinator,
  createCoordinator,
  InvalidArgumentError,
  optionNames,
  rejectUnknownOptions,
  validateName,
} from '@lockstep/core';
import type { Redis } from 'ioredis';
import { commandClient, connectWithin } from './connection.js';
import { redlockDriver, singleInstanceDriver } from './driver.js';
import { connectFailure, type EndpointFailure } from './errors.js';
import { type RedisConnectOptions, resolveOptions } from './options.js';
import { collectQuorum, quorumOf } from './quorum.js';
import { DEFAULT_DRIFT_FACTOR } from './redlock.js';
import { parseRedisUrl } from './url.js';

/** Options of {@link redisCoordinator}. */
export interface RedisCoordinatorOptions {
  /** Namespace for every key. Default `"lockstep"`. */
  prefix?: string;
  /** Handoff reservation after a release that had waiters (see `RedisConnectOptions`). Default 100 ms. */
  handoffMs?: number;
}

/** Options of {@link redlockCoordinator}. */
export interface RedlockCoordinatorOptions {
  /** Namespace for every key. Default `"lockstep"`. */
  prefix?: string;
  /** Clock drift allowed per ms of lease. Default 0.01 (plus 2 ms). */
  driftFactor?: number;
}

const REDIS_COORDINATOR_OPTION_NAMES = optionNames<RedisCoordinatorOptions>()(['prefix', 'handoffMs']);
const REDLOCK_COORDINATOR_OPTION_NAMES = optionNames<RedlockCoordinatorOptions>()(['prefix', 'driftFactor']);

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
  rejectUnknownOptions(options, REDIS_COORDINATOR_OPTION_NAMES, 'redisCoordinator options');
  const { handoffMs } = resolveOptions({ handoffMs: options.handoffMs });
  return createCoordinator(singleInstanceDriver(client, { ownsClients: false, handoffMs }), {
    prefix: options.prefix,
  });
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
  rejectUnknownOptions(options, REDLOCK_COORDINATOR_OPTION_NAMES, 'redlockCoordinator options');
  const { driftFactor } = resolveOptions({ driftFactor: options.driftFactor ?? DEFAULT_DRIFT_FACTOR });
  return createCoordinator(redlockDriver(clients, { ownsClients: false, driftFactor }), {
    prefix: options.prefix,
  });
}

/**
 * `connect()` for our schemes: everything is validated before the first connection is
 * opened, and a failure to connect closes what was opened.
 */
export async function connectFromUrl(url: URL, options: RedisConnectOptions): Promise<Coordinator> {
  const resolved = resolveOptions(options);
  if (resolved.prefix !== undefined) validateName(resolved.prefix, 'prefix');
  const target = parseRedisUrl(url);
  const isRedlock = url.protocol.toLowerCase() === 'redlock:';
  const clients = target.endpoints.map((endpoint) => commandClient(target, endpoint, resolved));
  const driver = isRedlock
    ? redlockDriver(clients, { ownsClients: true, driftFactor: resolved.driftFactor })
    : singleInstanceDriver(clients[0]!, { ownsClients: true, handoffMs: resolved.handoffMs });
  const coordinator = createCoordinator(driver, { prefix: resolved.prefix });

  // Redlock runs with a quorum; instances that fail keep reconnecting in the background. It
  // gives up as soon as too many failed to make a quorum, but on success waits for every
  // attempt to end: a lock taken while an instance is still connecting would be held by a bare
  // quorum, and one instance lost later would lose it.
  const needed = isRedlock ? quorumOf(clients.length) : 1;
  const addresses = target.endpoints.map(describe);
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

function describe(endpoint: { host: string; port: number }): string {
  return endpoint.host.includes(':')
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
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
