/**
 * What the suite runs against: a {@link ConformanceTarget} describes one backend deployment
 * (its URL, how to open a new client, which module registers its URL scheme, and — when we
 * own the server process — how to hurt it).
 * @module
 */
import type { BackendName, Coordinator } from '@lockstep/core';
import { SERVER_SOURCES, type ServerSource } from '@lockstep/testing';

/**
 * Every backend lockstep ships, in the order reports list them. (The names are core's
 * `BackendName`; the check below fails to compile when the two disagree.)
 */
export const BACKEND_NAMES = [
  'memory',
  'file',
  'redis',
  'redlock',
  'etcd',
  'zookeeper',
  'consul',
  'postgres',
] as const satisfies readonly BackendName[];

// Compiles only when every BackendName is listed above.
const everyBackendListed: Record<BackendName, true> = Object.fromEntries(
  BACKEND_NAMES.map((name) => [name, true]),
) as Record<(typeof BACKEND_NAMES)[number], true>;
void everyBackendListed;

/**
 * Where the server behind a target came from: one of @lockstep/testing's server sources
 * (`env`, `binary`, `container`, `emulator` — a stand-in speaking the backend's API, which
 * reports must never call the real thing), or `embedded` when there is no server (memory://,
 * file://).
 */
export type TargetSource = ServerSource | 'embedded';

/** Every {@link TargetSource}, in the order @lockstep/testing tries servers, then `embedded`. */
export const TARGET_SOURCES: readonly TargetSource[] = [...SERVER_SOURCES, 'embedded'];

/**
 * Process control over the server of a target, when the suite started it itself. A server
 * found through an environment URL belongs to someone else and has no controls.
 */
export interface ServerControl {
  /** SIGKILL; the server stays dead until `restart()`. */
  kill(): Promise<void>;
  /** Starts it again on the same address (and data), resolving once it answers. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered. */
  pause(): Promise<void>;
  /** SIGCONT. */
  resume(): Promise<void>;
}

/**
 * One backend deployment under test.
 *
 * The suite only ever talks to the backend through `connect()` and through child processes
 * that run `connect(url)` from `@lockstep/core` after importing `adapterModule`, so any
 * adapter — ours or a third party's — can be tested the same way.
 */
export interface ConformanceTarget {
  /**
   * The backend's name as reported in the matrix. For lockstep's own backends one of
   * `memory file redis redlock etcd zookeeper consul postgres`; a third-party adapter may
   * use its own.
   */
  readonly name: BackendName | (string & {});
  /** Where the server came from (see {@link TargetSource}). */
  readonly source: TargetSource;
  /**
   * The URL clients connect to, e.g. `redis://127.0.0.1:6379`. Child processes connect with
   * exactly this URL, so it must carry every option the test needs (as query parameters).
   */
  readonly url: string;
  /**
   * Opens a NEW client with its own connections (the suite treats each as an independent
   * application instance). `url`, when given, replaces `target.url` with an address of the
   * same backend — the suite uses it to route a client through a fault proxy — and must be
   * honoured with otherwise identical options.
   */
  connect(url?: string): Promise<Coordinator>;
  /**
   * A module specifier that registers the target's URL scheme when imported, e.g.
   * `'@lockstep/redis'`, `'@lockstep/core'` for memory://, or an absolute path / `file:` URL
   * for an adapter the suite's own package cannot resolve by name. Child processes import it
   * before calling `connect(url)`; bare names that fail to resolve from
   * `@lockstep/conformance` are retried from the working directory.
   */
  readonly adapterModule: string;
  /**
   * Lease length (ms) for the tests that wait for leases to end (expiry, loss, process
   * faults). Must be at least `capabilities.lock.minTtlMs`. Default: the larger of the
   * minimum TTL and 1000 ms. Shorter makes the run faster; too short for a loaded machine
   * makes renewals miss their window.
   */
  readonly ttlMs?: number;
  /**
   * A URL of the same scheme where nothing listens, for `backend.unavailable`. Default:
   * derived from `url` by pointing every host at a loopback port that was just free;
   * targets without host:port addresses (memory, file) have none and skip the test.
   */
  readonly deadUrl?: string;
  /**
   * The state lives inside this process only (memory://): other processes cannot contend,
   * so the process tests are skipped. Default: true for `memory:` URLs, false otherwise.
   */
  readonly inProcess?: boolean;
  /**
   * Whether the suite may put `faultProxy()` from @lockstep/testing in front of every host of
   * `url` and connect through it (cut-connection loss, I/O-free input checks). Default: true
   * when `url` has `host:port` addresses of a kind the proxy knows (redis, redlock, postgres,
   * etcd, zookeeper, consul); false for memory and file.
   */
  readonly proxyable?: boolean;
  /** Control of the server process, when the suite owns it; absent for env URLs and embedded backends. */
  readonly server?: ServerControl;
}

/** URL schemes whose addresses are `host:port` lists that faultProxy understands. */
const PROXYABLE_SCHEMES = new Set([
  'redis',
  'rediss',
  'redlock',
  'postgres',
  'postgresql',
  'etcd',
  'zookeeper',
  'consul',
]);

/** The scheme of a URL, lower-case, without the colon. */
export function schemeOf(url: string): string {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? '';
}

/** Whether the target's state is confined to this process (see {@link ConformanceTarget.inProcess}). */
export function isInProcess(target: ConformanceTarget): boolean {
  return target.inProcess ?? schemeOf(target.url) === 'memory';
}

/** Whether the suite may proxy the target's connections (see {@link ConformanceTarget.proxyable}). */
export function isProxyable(target: ConformanceTarget): boolean {
  if (target.proxyable !== undefined) return target.proxyable;
  return PROXYABLE_SCHEMES.has(schemeOf(target.url)) && hostList(target.url).length > 0;
}

/** One `host:port` entry of a URL's authority. */
export interface HostPort {
  readonly host: string;
  readonly port: number | undefined;
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)([^/?#]*)(.*)$/is;

/**
 * The hosts a URL names: `redlock://h1:p1,h2:p2/…` gives two. Empty for URLs without an
 * authority (`file:///dir`, `memory://name` gives one host named `name` with no port).
 */
export function hostList(url: string): HostPort[] {
  const hosts = AUTHORITY.exec(url)?.[2] ?? '';
  if (hosts === '') return [];
  return hosts.split(',').map((entry) => {
    const match = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(entry);
    return { host: match?.[1] ?? entry, port: match?.[2] === undefined ? undefined : Number(match[2]) };
  });
}

/** `url` with its host list replaced by `hosts` (scheme, credentials, path and query kept). */
export function withHostList(url: string, hosts: readonly HostPort[]): string {
  const match = AUTHORITY.exec(url);
  if (!match) return url;
  const list = hosts.map((h) => (h.port === undefined ? h.host : `${h.host}:${h.port}`)).join(',');
  return `${match[1]}${list}${match[3]}`;
}

/** `url` with a query parameter added (or replaced). Works for host lists that `new URL` rejects. */
export function withQueryParam(url: string, key: string, value: string): string {
  const [base, hash = ''] = url.split('#', 2) as [string, string?];
  const [path, query = ''] = base.split('?', 2) as [string, string?];
  const params = new URLSearchParams(query);
  params.set(key, value);
  return `${path}?${params.toString()}${hash ? `#${hash}` : ''}`;
}
