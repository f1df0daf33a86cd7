/**
 * Building coordinators: from a `zookeeper://` URL (lockstep owns and manages the client) or
 * from your own node-zookeeper-client client (or a factory of them).
 * @module
 */
import { type Coordinator, InvalidArgumentError } from '@lockstep/core';
import { type BackendDriver, createCoordinator, settleWithin } from '@lockstep/core/driver';
import { ZOOKEEPER_CAPABILITIES } from './capabilities.js';
import { ZkCounters } from './counters.js';
import { ZkElections } from './elections.js';
import { DeletionWatches } from './grant.js';
import { Leftovers } from './leftovers.js';
import { ZkLine } from './line.js';
import { lockShape, readWriteShape, ZkLocks } from './locks.js';
import {
  resolveOptions,
  ZOOKEEPER_COORDINATOR_OPTION_NAMES,
  type ZooKeeperConnectOptions,
  type ZooKeeperCoordinatorOptions,
} from './options.js';
import { createRawClient, type ZooKeeperClient } from './raw.js';
import { ZkSemaphores } from './semaphores.js';
import { type ClientSupply, SessionSource } from './source.js';
import { parseZooKeeperUrl } from './url.js';

/** How long close() spends tidying up (empty queue nodes, leftover nodes) before it lets go. */
const CLOSE_TIDY_MS = 2_000;
/** node-zookeeper-client's random pause before cycling through the servers again (its default is 1 s). */
const SPIN_DELAY_MS = 200;

/** The driver behind a ZooKeeper coordinator (exposed to this package's tests). */
export interface ZooKeeperDriver extends BackendDriver {
  readonly source: SessionSource;
}

const drivers = new WeakMap<Coordinator, ZooKeeperDriver>();

/** The driver behind `coordinator`, if it is a ZooKeeper one (for tests and diagnostics). */
export function driverFor(coordinator: Coordinator): ZooKeeperDriver | undefined {
  return drivers.get(coordinator);
}

/**
 * A coordinator over your own node-zookeeper-client client, or over a factory of clients.
 *
 * - A client (call `client.connect()` yourself): lockstep never closes it (`coordinator.close()`
 *   leaves it open) and never reconnects it. If its session EXPIRES, node-zookeeper-client cannot
 *   revive it: every later operation fails with `BackendUnavailableError` until you build a new
 *   coordinator over a new client.
 * - A factory (`() => zookeeper.createClient(…)`): lockstep connects each client it makes, and
 *   after a session loss closes it and makes a new one; `coordinator.close()` closes it.
 *
 * Paths are used as given (your client's own chroot applies). No I/O happens until the first
 * operation. Create clients with `retries: 0` (the default): a create the client retried by
 * itself after a lost reply could duplicate a lock node.
 */
export function zookeeperCoordinator(
  client: ZooKeeperClient | (() => ZooKeeperClient),
  options: ZooKeeperCoordinatorOptions = {},
): Coordinator {
  const resolved = resolveOptions(
    options,
    ZOOKEEPER_COORDINATOR_OPTION_NAMES,
    'zookeeperCoordinator options',
  );
  let supply: ClientSupply;
  if (typeof client === 'function') {
    supply = { owned: true, create: client, describe: 'a client from your factory' };
  } else if (client !== null && typeof client === 'object' && typeof client.getChildren === 'function') {
    supply = { owned: false, client };
  } else {
    throw new InvalidArgumentError(
      'client',
      'must be a node-zookeeper-client client or a function returning one',
    );
  }
  return register(createDriver(supply, '', resolved.connectTimeoutMs), resolved.prefix);
}

/** `connect('zookeeper://…')`: connects before resolving, so a dead address fails here. */
export async function connectFromUrl(url: URL, options: ZooKeeperConnectOptions): Promise<Coordinator> {
  const target = parseZooKeeperUrl(url);
  const resolved = resolveOptions(options);
  const servers = target.servers.join(',');
  const create = () => {
    const client = createRawClient(servers, {
      sessionTimeout: resolved.sessionTimeoutMs,
      spinDelay: SPIN_DELAY_MS,
      retries: 0,
    });
    if (target.digest !== undefined) client.addAuthInfo('digest', Buffer.from(target.digest));
    return client;
  };
  const driver = createDriver(
    { owned: true, create, describe: servers, hosts: target.hosts },
    target.chroot,
    resolved.connectTimeoutMs,
  );
  try {
    await driver.source.ready();
  } catch (error) {
    await driver.close();
    throw error;
  }
  return register(driver, resolved.prefix);
}

function createDriver(supply: ClientSupply, base: string, connectTimeoutMs: number): ZooKeeperDriver {
  const source = new SessionSource(supply, connectTimeoutMs);
  const leftovers = new Leftovers(source);
  const watches = new DeletionWatches();
  const ctx = { source, base, leftovers, watches, line: new ZkLine({ source, leftovers }) };
  return {
    backend: 'zookeeper',
    capabilities: ZOOKEEPER_CAPABILITIES,
    locks: new ZkLocks(ctx, lockShape),
    semaphores: new ZkSemaphores(ctx),
    readWriteLocks: new ZkLocks(ctx, readWriteShape),
    elections: new ZkElections(ctx),
    counters: new ZkCounters(source, base),
    source,
    async close() {
      watches.close();
      // Tidy up over the session we have (bounded: a silent server must not stall close), then end it.
      await settleWithin(leftovers.flush(), CLOSE_TIDY_MS);
      await source.close();
    },
  };
}

function register(driver: ZooKeeperDriver, prefix: string | undefined): Coordinator {
  const coordinator = createCoordinator(driver, { prefix });
  drivers.set(coordinator, driver);
  return coordinator;
}
