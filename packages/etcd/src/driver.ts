/**
 * The etcd `BackendDriver`: locks, counters and the per-coordinator machinery they share (the
 * RPC layer, the sessions, one watch stream, the sweeper).
 * @module
 */
import { type BackendDriver, SessionPool, Sweeper } from '@lockstep/core/driver';
import type { Namespace } from 'etcd3';
import { ETCD_CAPABILITIES } from './capabilities.js';
import { EtcdCounters } from './counters.js';
import type { GrantContext } from './grant.js';
import { KeepAliveChannel } from './keepalive.js';
import { EtcdLocks } from './locks.js';
import { ExtraLeases } from './native.js';
import { EtcdRpc } from './rpc.js';
import { grantLease } from './session.js';
import { WatchChannel } from './watch.js';

/** Options of {@link etcdDriver}. */
export interface EtcdDriverOptions {
  /** Close the client in `close()` (only for clients lockstep created). */
  readonly ownsClient: boolean;
  /** Deadline of one request, retries included. */
  readonly requestTimeoutMs: number;
}

/** The driver, plus what tests and the ownership helper look at. */
export interface EtcdDriver extends BackendDriver {
  readonly locks: EtcdLocks;
  readonly context: GrantContext;
}

/** Builds the driver over an etcd3 client (or one of its namespaces). */
export function etcdDriver(
  client: Namespace & { close?: () => void },
  options: EtcdDriverOptions,
): EtcdDriver {
  const rpc = new EtcdRpc(client, options.requestTimeoutMs);
  const keepAlives = new KeepAliveChannel(rpc);
  const grant = (ttlMs: number) => grantLease(rpc, keepAlives, ttlMs);
  const context: GrantContext = {
    rpc,
    sessions: new SessionPool({ create: grant }),
    extras: new ExtraLeases(grant),
    watches: new WatchChannel(rpc),
    sweeper: new Sweeper(),
    owners: new Map(),
  };
  return {
    backend: 'etcd',
    capabilities: ETCD_CAPABILITIES,
    locks: new EtcdLocks(context),
    counters: new EtcdCounters(rpc),
    context,
    async close() {
      context.sweeper.close();
      context.watches.close();
      // Revoking the leases deletes every key still on them (a lock that could not be
      // released, a leftover queue entry) at once instead of after a TTL.
      await Promise.all([context.sessions.close(), context.extras.close()]);
      keepAlives.close();
      if (options.ownsClient) client.close?.();
    },
  };
}
