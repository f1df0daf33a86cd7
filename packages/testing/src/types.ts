/**
 * The public shapes of @lockstep/testing: server kinds, where a server came from, and the
 * handle a test uses to reach and to hurt it.
 * @module
 */

/** Every kind of server this package can provide. */
export const SERVER_KINDS = ['redis', 'postgres', 'etcd', 'zookeeper', 'consul'] as const;

/** A kind of server: `redis postgres etcd zookeeper consul`. */
export type ServerKind = (typeof SERVER_KINDS)[number];

/**
 * Where a server came from, in the order they are tried:
 * - `env`: a URL from `LOCKSTEP_TEST_<KIND>_URL` (someone else's server; not controllable),
 * - `binary`: a local binary started by us on a free loopback port in its own temp dir,
 * - `container`: a testcontainers container, when a container runtime answers,
 * - `emulator`: the Consul HTTP API emulator of this package (Consul only; never call it Consul).
 */
export type ServerSource = 'env' | 'binary' | 'container' | 'emulator';

/** Every source, in the order {@link startServer} tries them. */
export const SERVER_SOURCES: readonly ServerSource[] = ['env', 'binary', 'container', 'emulator'];

/**
 * One running server and the process faults a test can inflict on it.
 *
 * Guarantees: after `startServer` resolves the server has answered a real protocol request
 * on `url`. `stop()` ends the process (gracefully, SIGKILL after a grace period), waits for
 * it to exit and removes its temp dir; it is idempotent. Every handle is also stopped at
 * process exit, on SIGINT/SIGTERM and by {@link stopAllServers}; if the Node process dies
 * abruptly, a watchdog kills the server's process group.
 *
 * Limits: control methods act on the whole process group of the server (PostgreSQL's backends
 * pause with the postmaster). A handle whose `source` is `env` belongs to someone else: `stop()`
 * only forgets it and the other control methods throw `ServerControlError`. Container handles
 * map the same methods onto the container runtime (kill, pause, unpause, restart).
 */
export interface ServerHandle {
  readonly kind: ServerKind;
  /** The URL an adapter connects to, e.g. `redis://127.0.0.1:23817`. */
  readonly url: string;
  readonly source: ServerSource;
  /** Process id of the server (the group leader); changes on `restart()`; absent for env and containers. */
  readonly pid?: number;
  /** File holding the server's stdout and stderr, appended across restarts. */
  readonly logPath?: string;
  /** The server's data directory, kept across `kill()` and `restart()`, removed by `stop()`. */
  readonly dataDir?: string;
  readonly port: number;
  readonly host: string;
  /** Graceful stop, then removal of the temp dir. Idempotent; never throws for an already dead process. */
  stop(): Promise<void>;
  /** SIGKILL to the process group; the server stays dead until `restart()`. Resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGSTOP to the process group: connections stay open, nothing is answered. */
  pause(): Promise<void>;
  /** SIGCONT to the process group. */
  resume(): Promise<void>;
  /**
   * Stops the server if it runs (gracefully; a paused one is resumed first), starts it again on
   * the same port with the same data dir and resolves once it answers a protocol request again.
   */
  restart(): Promise<void>;
  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A group of servers of one kind started together; see {@link startCluster}. */
export interface ClusterHandle {
  readonly kind: ServerKind;
  /**
   * The URL naming every node: `etcd://h:p1,h:p2,h:p3`, `zookeeper://h:p1,h:p2,h:p3`, and for
   * Redis `redlock://h:p1,h:p2,h:p3` (independent instances, as Redlock wants).
   */
  readonly url: string;
  /** One handle per node, each controllable on its own while the others run. */
  readonly nodes: readonly ServerHandle[];
  /** Stops every node (in parallel) and removes their temp dirs. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for the Consul HTTP API emulator child process (Consul only). */
export interface ConsulEmulatorProcessOptions {
  /** Multiple of a session's TTL after which it is invalidated (1–2, default 2). */
  invalidationFactor?: number;
  /** Smallest session TTL accepted, as a Go duration (`1s`, `500ms`); Consul's default is `10s`. */
  sessionTtlMin?: string;
}

/** Options of {@link startServer} and {@link startCluster}. */
export interface StartServerOptions {
  /**
   * Restrict (and order) the sources tried, e.g. `['binary']` to refuse env URLs and containers,
   * or `['emulator']` to test against the Consul emulator even when a Consul binary exists.
   * Default: every source, in the order of {@link SERVER_SOURCES}.
   */
  sources?: readonly ServerSource[];
  /** How long the server may take to answer its first protocol request. Defaults per kind (20–60 s). */
  readyTimeoutMs?: number;
  /** Environment to read `LOCKSTEP_TEST_<KIND>_URL` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Consul emulator settings, used only when the emulator is the source. */
  consulEmulator?: ConsulEmulatorProcessOptions;
}
