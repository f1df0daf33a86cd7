/**
 * What one backend supplies to the tools that exercise it beyond the suite (`pnpm compare`):
 * how to provision a target, how to ask the server for its version, how to remove everything
 * a run wrote, the hand-written operations its figures are compared with, the libraries
 * users would pick instead, and its interop scenarios. Each adapter exports its profile from
 * its `/testing` subpath, so everything about one backend lives in its package.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { BackendName } from '@lockstep/core';
import type { InteropScenario } from '../interop/types.js';
import type { ConformanceTarget } from '../target.js';

/**
 * Where a benchmark subject works: the target's URL, and the prefix every name it writes
 * outside lockstep starts with (`<prefix>/floor/…`), so that the profile's
 * {@link BackendProfile.cleanup} finds and removes it.
 */
export interface BenchScope {
  readonly url: string;
  readonly prefix: string;
}

/**
 * One operation to time, with what it needs opened beforehand. `op` is called many times in
 * a row (latency metrics) or by 64 callers at once (throughput metrics), so it must be safe
 * to call concurrently when used for a throughput hook.
 */
export interface BenchSubject {
  /** Runs once before timing starts (e.g. create a key). Optional. */
  setup?(): Promise<void>;
  /** One operation: one lock cycle (acquire + release), or one +1. */
  op(): Promise<void>;
  /** Closes every connection the subject opened. Runs even when timing failed. */
  teardown(): Promise<void>;
}

/** Builds a {@link BenchSubject} in a scope. */
export type BenchHook = (scope: BenchScope) => Promise<BenchSubject>;

/** One independent client for the handoff benchmark: its own connections, one lock name. */
export interface Contender {
  /** Waits until it holds the lock (the bench's lock name, fixed by the factory). */
  acquire(): Promise<void>;
  /** Releases it. */
  release(): Promise<void>;
  /** Closes its connections. */
  close(): Promise<void>;
}

/**
 * Builds `n` {@link Contender}s for one lock name, each with its own connections, as `n`
 * application instances would be.
 */
export type ContenderFactory = (scope: BenchScope, n: number) => Promise<Contender[]>;

/**
 * Builds `n` {@link Contender}s on one semaphore of `permits`, each with its own connections;
 * a contender's `acquire` waits for a permit and its `release` gives it back.
 */
export type SemaphoreContenderFactory = (
  scope: BenchScope,
  n: number,
  permits: number,
) => Promise<Contender[]>;

/**
 * A library users would pick instead of lockstep for this backend (node-redlock,
 * redis-semaphore, etcd3's `lock()`, advisory-lock …), measured on the same metrics:
 * `lockCycle` → `lock.cycle`, `lockHandoff` → `lock.handoff` and `lock.fairness`,
 * `counterIncrement` → `counter.increment`, `counterThroughput64` → `counter.throughput64`,
 * `semaphoreHandoff` → `semaphore.handoff` and `semaphore.fairness`.
 * Supply what the library can do; leave out the rest.
 */
export interface PeerBench {
  readonly lockCycle?: BenchHook;
  readonly lockHandoff?: ContenderFactory;
  readonly semaphoreHandoff?: SemaphoreContenderFactory;
  readonly counterIncrement?: BenchHook;
  readonly counterThroughput64?: BenchHook;
}

/** Options given to {@link BackendProfile.provision}. */
export interface ProvisionOptions {
  /** A URL from `--url`: use that server instead of starting one (its source is `env`). */
  readonly url?: string;
  /**
   * The namespace of this run: the target's coordinators must use it as their `prefix` (and
   * carry it in the URL, so child processes use it too), and everything else the run writes
   * starts with it.
   */
  readonly prefix: string;
  /** Progress lines for the person watching (stderr). */
  readonly log: (line: string) => void;
}

/** A provisioned backend: the target to test and how to tear it down. */
export interface ProvisionedBackend {
  readonly target: ConformanceTarget;
  /** Stops whatever `provision` started (servers, temp dirs). Idempotent. */
  stop(): Promise<void>;
}

/**
 * A backend as `pnpm compare` sees it.
 *
 * `provision` throws when the backend cannot be provided on this machine (no binary, no
 * container runtime …): compare then reports every test of the backend as `skip` with the
 * error message as the loud reason, instead of dropping the backend.
 *
 * `floor` hooks are the same work hand-written with the raw client in the fewest round
 * trips (what lockstep's overhead is measured against); `naive.counterThroughput64` is one
 * plain backend operation (or CAS loop) per call, without lockstep's coalescing.
 */
export interface BackendProfile {
  readonly name: BackendName;
  /** Module that registers the backend's URL schemes (child processes import it). */
  readonly adapterModule: string;
  provision(options: ProvisionOptions): Promise<ProvisionedBackend>;
  /**
   * The server's own account of its version (`INFO server`, `/version`, `SELECT version()`
   * …); an emulator says that it is one. Absent for embedded backends.
   */
  serverVersion?(url: string): Promise<string>;
  /**
   * Removes everything a run under `prefix` wrote on the server at `url` (the target's URL):
   * lockstep's own keys under that prefix and every name the floors, peers and interop
   * scenarios wrote under it. Runs after every run, also after failures; must succeed when
   * nothing is there.
   */
  cleanup?(url: string, prefix: string): Promise<void>;
  readonly floor?: {
    /** `floor.lock.cycle`: uncontended acquire + release with the raw client. */
    readonly lockCycle?: BenchHook;
    /** `floor.counter.increment`: the raw client's simplest atomic +1. */
    readonly counterIncrement?: BenchHook;
  };
  readonly naive?: {
    /** `naive.counter.throughput64`: one plain backend op (or CAS loop) per +1 call. */
    readonly counterThroughput64?: BenchHook;
  };
  /** Peer libraries by the name the report shows (e.g. `redlock4`, `redis-semaphore`). */
  readonly peers?: Readonly<Record<string, PeerBench>>;
  /**
   * Interop scenarios (lockstep's native locks against other languages' recipes on the same
   * server), run after the suite; each id (`interop.<peer>`) becomes one more row of this
   * backend's tests. Loaded lazily so that a profile loads without the peer libraries.
   */
  readonly interop?: () => Promise<readonly InteropScenario[]>;
}

/**
 * `<prefix>/<what>/<random>`: a name no other subject or run uses, under the run's prefix,
 * for keys a floor, a peer or a scenario writes outside lockstep.
 */
export function scopedName(prefix: string, what: string): string {
  return `${prefix}/${what}/${randomBytes(4).toString('hex')}`;
}
