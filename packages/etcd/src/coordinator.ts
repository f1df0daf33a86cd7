/**
 * Building coordinators — from a URL (the etcd3 client is lockstep's and closed by
 * `coordinator.close()`) or from the application's own etcd3 client (never closed by
 * lockstep) — over one driver each: the RPC layer, the leases, one watch stream and one sweeper
 * shared by its locks; and {@link lockOwnership}, the hook for guarding your own etcd writes.
 * @module
 */
import {
  BackendUnavailableError,
  type Coordinator,
  InvalidArgumentError,
  type LockHandle,
  LockLostError,
} from '@lockstep/core';
import {
  type BackendDriver,
  createCoordinator,
  everyHostRefused,
  refusedError,
  SessionPool,
  Sweeper,
} from '@lockstep/core/driver';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, noop } from 'cockatiel';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  type ICompare,
  isRecoverableError,
  type Namespace,
} from 'etcd3';
import { ETCD_CAPABILITIES } from './capabilities.js';
import { EtcdCounters } from './counters.js';
import { EtcdElections } from './elections.js';
import { isRetryable } from './errors.js';
import type { GrantContext } from './grant.js';
import { EtcdLocks } from './locks.js';
import { ExtraLeases } from './native.js';
import {
  ETCD_COORDINATOR_OPTION_NAMES,
  type EtcdConnectOptions,
  type EtcdCoordinatorOptions,
  resolveOptions,
} from './options.js';
import { EtcdRpc } from './rpc.js';
import { etcdReadWriteLocks } from './rwlocks.js';
import { etcdSemaphores } from './semaphores.js';
import { grantLease } from './session.js';
import { DEFAULT_ETCD_PORT, type EtcdTarget, parseEtcdUrl } from './url.js';
import { WatchChannel } from './watch.js';

/** A coordinator's driver, with what tests and {@link lockOwnership} look at. */
export interface EtcdDriver extends BackendDriver {
  readonly locks: EtcdLocks;
  readonly context: GrantContext;
}

const drivers = new WeakMap<Coordinator, EtcdDriver>();

/**
 * An `etcd` coordinator over your own etcd3 client (an `Etcd3`, or a namespace of one: every
 * key then lives under that namespace). `coordinator.close()` revokes lockstep's leases and
 * leaves your client open.
 *
 * Your client's fault-handling policy applies to lockstep's requests. etcd3's default global
 * policy retries a request whose reply was lost; for lock operations that is harmless (each is
 * guarded so that a repeat changes nothing), but a counter's compare-and-swap repeated after it
 * succeeded adds twice. For exact counters build the client with
 * `faultHandling: { global: noop }` (from `cockatiel`), as `connect('etcd://…')` does.
 * @throws InvalidArgumentError when `client` is not an etcd3 client or an option is bad.
 */
export function etcdCoordinator(client: Namespace, options: EtcdCoordinatorOptions = {}): Coordinator {
  assertClient(client);
  const resolved = resolveOptions({ ...options }, ETCD_COORDINATOR_OPTION_NAMES, 'etcdCoordinator options');
  return coordinatorOver(client, false, resolved);
}

/**
 * `connect()` for `etcd://h1:p1[,h2:p2,...]`: everything is validated before the client is
 * created, and the first request must be answered within `connectTimeoutMs` (else
 * `BackendUnavailableError`, and the client is closed; at once when every endpoint refuses).
 */
export async function connectFromUrl(url: URL, options: EtcdConnectOptions): Promise<Coordinator> {
  const resolved = resolveOptions(options);
  const target = parseEtcdUrl(url);
  const scheme = resolved.tls ? 'https' : 'http';
  const client = new Etcd3({
    hosts: target.endpoints.map((e) => `${scheme}://${e}`),
    auth: target.auth ? { ...target.auth } : undefined,
    // No blind global retry: lockstep retries what is safe to repeat itself (see rpc.ts).
    // Per member, a circuit breaker skips a dead member for a second at a time.
    faultHandling: {
      global: noop,
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 1_000,
          breaker: new ConsecutiveBreaker(3),
        }),
    },
    grpcOptions: {
      // Reconnect promptly to a member that comes back.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    },
  });
  try {
    await firstAnswer(client, target, resolved.connectTimeoutMs);
  } catch (error) {
    client.close();
    throw error;
  }
  return coordinatorOver(client, true, resolved);
}

/** The coordinator over `client`, closing it on `close()` when `ownsClient`. */
function coordinatorOver(
  client: Namespace & { close?: () => void },
  ownsClient: boolean,
  options: { prefix: string | undefined; requestTimeoutMs: number },
): Coordinator {
  const rpc = new EtcdRpc(client, options.requestTimeoutMs);
  const grant = (ttlMs: number) => grantLease(rpc, ttlMs);
  const context: GrantContext = {
    rpc,
    sessions: new SessionPool({ create: grant }),
    extras: new ExtraLeases(grant),
    watches: new WatchChannel(rpc),
    sweeper: new Sweeper(),
    owners: new Map(),
    waits: { wakes: { deleted: 0, broken: 0, timer: 0 }, waiting: 0 },
  };
  const driver: EtcdDriver = {
    backend: 'etcd',
    capabilities: ETCD_CAPABILITIES,
    locks: new EtcdLocks(context),
    semaphores: etcdSemaphores(context),
    readWriteLocks: etcdReadWriteLocks(context),
    elections: new EtcdElections(context),
    counters: new EtcdCounters(rpc),
    context,
    async close() {
      context.sweeper.close();
      context.watches.close();
      // Revoking the leases deletes every key still on them (a lock that could not be
      // released, a leftover queue entry) at once instead of after a TTL.
      await Promise.all([context.sessions.close(), context.extras.close()]);
      if (ownsClient) client.close?.();
    },
  };
  const coordinator = createCoordinator(driver, { prefix: options.prefix });
  drivers.set(coordinator, driver);
  return coordinator;
}

/**
 * How long a connect may take before lockstep checks whether every endpoint refuses TCP
 * connections (a healthy etcd answers well within it, so it never sees the extra dial).
 */
const REFUSAL_CHECK_AFTER_MS = 100;

/**
 * Resolves when `client` answered a first request. Rejects as soon as every endpoint refused
 * (etcd3 would keep retrying them until the deadline), else after `timeoutMs` — with the
 * last error a member gave, never etcd3's circuit breaker standing in for it.
 */
async function firstAnswer(client: Etcd3, target: EtcdTarget, timeoutMs: number): Promise<void> {
  const probe = new EtcdRpc(client, timeoutMs);
  const answered = probe.range({ key: probe.key('lockstep-probe'), count_only: true }, 'connect').then(
    () => undefined,
    (error: unknown) => {
      throw connectFailure(error, target, timeoutMs);
    },
  );
  const connecting = new AbortController();
  const refused = everyHostRefused(target.hosts, {
    signal: connecting.signal,
    afterMs: REFUSAL_CHECK_AFTER_MS,
  });
  try {
    const refusals = await Promise.race([answered, refused.then((r) => r ?? answered)]);
    if (refusals === undefined) return;
    answered.catch(() => {}); // ends with the client, which the caller closes
    throw refusedError('etcd', 'etcd', refusals);
  } finally {
    connecting.abort();
  }
}

/** The probe's failure, said as what it means for connecting. */
function connectFailure(error: unknown, target: EtcdTarget, timeoutMs: number): BackendUnavailableError {
  const where = target.endpoints.join(',');
  const cause = error instanceof BackendUnavailableError && error.cause !== undefined ? error.cause : error;
  // gRPC ends its text with an empty "Resolution note:".
  const detail = String(cause instanceof Error ? cause.message : cause).replace(
    /\.?\s*Resolution note:\s*$/,
    '',
  );
  const message = isRetryable(cause)
    ? `no answer from ${where} within ${timeoutMs} ms — ${detail}. Check that these are etcd client endpoints (port ${DEFAULT_ETCD_PORT} by default) with a quorum of members up; raise connectTimeoutMs if etcd is only slow.`
    : `connect to ${where} failed — ${detail}. Check the URL (and its user name and password) against the etcd server's log.`;
  return new BackendUnavailableError('etcd', message, { cause });
}

/** How a held lock appears in etcd, for guarding your own writes with it. */
export interface LockOwnership {
  /** The contender key that holds the lock, named as your client names keys (inside its namespace). */
  readonly key: string;
  /** Its create revision: the same value as `handle.fencingToken`. */
  readonly createRevision: bigint;
  /**
   * The comparison `create_revision(key) == createRevision` (full key bytes, for a raw
   * `etcd.kv.txn({ compare: [ownership.compare], success: [...] })`). It holds exactly while
   * this handle owns the lock — etcd's `Mutex.IsOwner()`.
   */
  readonly compare: ICompare;
}

/**
 * The hook that makes the lock safe for writes to etcd itself: put the returned comparison in
 * your own transaction, and the write happens only if this handle still owns the lock at the
 * instant etcd applies it — a holder that was paused past its lease cannot write.
 *
 * ```ts
 * const held = await coord.lock('invoice:42').acquire();
 * const { key, createRevision } = lockOwnership(coord, held);
 * const res = await etcd
 *   .if(key, 'Create', '==', createRevision.toString())
 *   .then(etcd.put('invoices/42').value(body))
 *   .commit();
 * if (!res.succeeded) throw new Error('lost the lock before writing');
 * ```
 *
 * For resources outside etcd, compare `handle.fencingToken` with the largest token the
 * resource has seen instead (the token is this key's create revision).
 * @throws InvalidArgumentError when `coordinator` is not an etcd coordinator.
 * @throws LockLostError when `handle` no longer holds its lock (released or lost).
 */
export function lockOwnership(coordinator: Coordinator, handle: LockHandle): LockOwnership {
  const driver = drivers.get(coordinator);
  if (!driver) throw new InvalidArgumentError('coordinator', 'is not an etcd coordinator');
  const token = handle.fencingToken;
  const key = driver.context.owners.get(token);
  if (key === undefined) {
    const reason = handle.signal.reason;
    throw reason instanceof LockLostError
      ? reason
      : new LockLostError(handle.name, 'stolen', { cause: 'not held' });
  }
  return {
    key,
    createRevision: token,
    compare: {
      key: Buffer.from(driver.context.rpc.key(key)),
      target: CompareTarget.Create,
      result: CompareResult.Equal,
      create_revision: token.toString(),
    },
  };
}

/** The driver behind an etcd coordinator (internal: tests and benchmarks). */
export function driverFor(coordinator: Coordinator): EtcdDriver | undefined {
  return drivers.get(coordinator);
}

function assertClient(client: unknown): asserts client is Namespace {
  const c = client as Partial<Namespace> | null;
  if (typeof c !== 'object' || c === null || !c.kv || !c.leaseClient || !c.watchClient) {
    throw new InvalidArgumentError(
      'client',
      'must be an etcd3 client (new Etcd3(...)) or one of its namespaces',
    );
  }
}
