/**
 * A server process we started and own: spawn, readiness, process faults, restart, stop.
 *
 * The process runs as leader of its own process group with stdout and stderr appended to a log
 * file in its temp dir. Every signal goes to the whole group. All control calls are serialised,
 * so a `kill()` issued while a `restart()` is in flight acts on the restarted process.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { ServerControlError, ServerStartError } from './errors.js';
import { isProcessAlive, isStoppedOrGone, signalGroup, signalPid, signalTree } from './process-group.js';
import { type Tracked, track, untrack } from './registry.js';
import { removeTempDir, removeTempDirNow } from './temp-dir.js';
import type { ServerHandle, ServerKind, ServerSource } from './types.js';
import { unwatchProcessGroup, watchProcessGroup } from './watchdog.js';

/** Everything needed to (re)start one node; produced by a kind's recipe. */
export interface NodeSpec {
  readonly kind: ServerKind;
  readonly source: Extract<ServerSource, 'binary' | 'emulator'>;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Removed by stop(); holds dataDir and logPath. */
  readonly tempDir: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Signal for a graceful stop (PostgreSQL: SIGINT, its "fast shutdown"). */
  readonly stopSignal: NodeJS.Signals;
  /** Resolves once the node answers a real protocol request; throws otherwise. */
  readonly probe: () => Promise<void>;
  readonly readyTimeoutMs: number;
}

/** How long a graceful stop may take before SIGKILL. */
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 30;

type State = 'idle' | 'running' | 'paused' | 'dead' | 'stopped';

/** Resolves with `value` after `ms`, or with `other` as soon as it settles; the timer never outlives the race. */
async function raceTimer<T>(other: Promise<T>, ms: number, value: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      other,
      new Promise<T>((resolve) => (timer = setTimeout(() => resolve(value), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits until processes that are not our children (so no exit event reaches us) are gone, e.g.
 * PostgreSQL backends after a SIGKILL: a restart must not find their shared memory still attached.
 */
function waitForExit(pids: readonly number[]): Promise<void> {
  return waitUntilAll(pids, (pid) => !isProcessAlive(pid));
}

/** Polls /proc (no event exists for processes that are not our children) until `done` holds for every pid. */
async function waitUntilAll(
  pids: readonly number[],
  done: (pid: number) => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pids.every(done) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The last lines of a log, for error messages. */
export function logTail(path: string, lines = LOG_TAIL_LINES): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class ManagedServer implements ServerHandle, Tracked {
  readonly kind: ServerKind;
  readonly url: string;
  readonly source: ServerSource;
  readonly host: string;
  readonly port: number;
  readonly logPath: string;
  readonly dataDir: string;
  readonly #spec: NodeSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #state: State = 'idle';
  #queue: Promise<unknown> = Promise.resolve();
  #stopping: Promise<void> | undefined;

  constructor(spec: NodeSpec) {
    this.#spec = spec;
    this.kind = spec.kind;
    this.url = spec.url;
    this.source = spec.source;
    this.host = spec.host;
    this.port = spec.port;
    this.logPath = spec.logPath;
    this.dataDir = spec.dataDir;
    track(this);
  }

  /** Process id of the current (or last) server process. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** `running`, `paused`, `dead` (killed or crashed), `stopped`; `idle` before the first start. */
  get state(): State {
    return this.#state;
  }

  /** Spawns the process and resolves once it answers; on failure it is killed and the error names the log. */
  start(): Promise<void> {
    return this.#serial(() => this.#spawnAndWait());
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      // Wait for an in-flight operation, but stop even if it failed.
      await this.#queue.catch(() => {});
      await this.#terminate();
      this.#state = 'stopped';
      await removeTempDir(this.#spec.tempDir);
      untrack(this);
    })();
    return this.#stopping;
  }

  kill(): Promise<void> {
    return this.#serial(async () => {
      this.#assertUsable('kill');
      const pgid = this.#livePid();
      if (pgid !== undefined) {
        const descendants = signalTree(pgid, 'SIGKILL');
        await this.#untilExited();
        await waitForExit(descendants);
      }
      this.#state = 'dead';
    });
  }

  pause(): Promise<void> {
    return this.#serial(async () => {
      this.#assertUsable('pause');
      const pgid = this.#requireLive('pause');
      const descendants = signalTree(pgid, 'SIGSTOP');
      // Signal delivery is asynchronous: resolve only once the whole tree has really stopped.
      await waitUntilAll([pgid, ...descendants], isStoppedOrGone);
      this.#state = 'paused';
    });
  }

  resume(): Promise<void> {
    return this.#serial(async () => {
      this.#assertUsable('resume');
      const pgid = this.#requireLive('resume');
      signalTree(pgid, 'SIGCONT');
      this.#state = 'running';
    });
  }

  restart(): Promise<void> {
    return this.#serial(async () => {
      this.#assertUsable('restart');
      await this.#terminate();
      await this.#spawnAndWait();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  killNow(): void {
    const pgid = this.#livePid();
    if (pgid !== undefined) {
      signalTree(pgid, 'SIGCONT');
      signalTree(pgid, 'SIGKILL');
    }
    this.#state = 'stopped';
    removeTempDirNow(this.#spec.tempDir);
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.catch(() => {}).then(operation);
    this.#queue = result;
    return result;
  }

  #assertUsable(operation: string): void {
    if (this.#stopping !== undefined) {
      throw new ServerControlError(this.kind, `${operation}() on a stopped server (${this.url})`);
    }
  }

  #livePid(): number | undefined {
    const pid = this.#child?.pid;
    return pid !== undefined && this.#child?.exitCode === null && this.#child.signalCode === null
      ? pid
      : undefined;
  }

  #requireLive(operation: string): number {
    const pid = this.#livePid();
    if (pid === undefined) {
      throw new ServerControlError(this.kind, `${operation}() needs a running server; it is ${this.#state}`);
    }
    return pid;
  }

  async #spawnAndWait(): Promise<void> {
    const spec = this.#spec;
    const logFd = openSync(spec.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(spec.command, [...spec.args], {
        cwd: spec.cwd ?? spec.tempDir,
        env: spec.env ?? process.env,
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    this.#child = child;
    // Exit is the one event everything waits on: kill(), stop() and a start-up that crashed.
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (child.pid !== undefined) unwatchProcessGroup(child.pid);
        if (this.#state === 'running' || this.#state === 'paused') this.#state = 'dead';
        resolve();
      });
      child.once('error', () => resolve());
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) =>
        reject(new ServerStartError(spec.kind, `cannot run ${spec.command}: ${error.message}`, spec.logPath)),
      );
    });
    watchProcessGroup(child.pid!);
    // The detached child must not keep a test worker's event loop alive; the registry stops it.
    child.unref();
    this.#state = 'running';
    await this.#waitUntilReady(child);
  }

  async #waitUntilReady(child: ChildProcess): Promise<void> {
    const spec = this.#spec;
    const deadline = Date.now() + spec.readyTimeoutMs;
    let exited = false;
    void this.#exited.then(() => {
      exited = true;
    });
    let interval = 20;
    let lastError: unknown;
    for (;;) {
      if (exited) {
        const how = child.signalCode ?? `code ${child.exitCode}`;
        throw new ServerStartError(
          spec.kind,
          `${spec.command} exited (${how}) before answering on ${spec.url}; log ${spec.logPath}:\n${logTail(spec.logPath)}`,
          spec.logPath,
        );
      }
      try {
        await spec.probe();
        return;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() >= deadline) {
        await this.#terminate();
        const last = lastError instanceof Error ? lastError.message : String(lastError);
        throw new ServerStartError(
          spec.kind,
          `did not answer on ${spec.url} within ${spec.readyTimeoutMs} ms (last probe: ${last}); log ${spec.logPath}:\n${logTail(spec.logPath)}`,
          spec.logPath,
          { cause: lastError },
        );
      }
      // Retry the probe soon, or at once if the process exits in the meantime.
      await raceTimer(this.#exited, interval, undefined);
      interval = Math.min(interval * 1.5, 250);
    }
  }

  /**
   * Waits for the current process to exit. The child is unref'd so an idle server never keeps a
   * test process alive; while someone waits on it, it must, or Node would exit mid-await.
   */
  async #untilExited(): Promise<void> {
    const child = this.#child;
    child?.ref();
    try {
      await this.#exited;
    } finally {
      child?.unref();
    }
  }

  /** Ends the current process, if any: SIGCONT (a stopped process cannot exit), the stop signal, then SIGKILL. */
  async #terminate(): Promise<void> {
    const pgid = this.#livePid();
    if (pgid === undefined) return;
    const descendants = signalTree(pgid, 'SIGCONT');
    // The graceful signal goes to the server alone: it shuts its own children down in order.
    signalGroup(pgid, this.#spec.stopSignal);
    const graceful = await raceTimer(
      this.#exited.then(() => true),
      STOP_GRACE_MS,
      false,
    );
    if (!graceful) {
      signalTree(pgid, 'SIGKILL');
      await this.#untilExited();
    }
    // Anything the server forked and left behind (a stray backend) goes too.
    signalGroup(pgid, 'SIGKILL');
    for (const pid of descendants) signalPid(pid, 'SIGKILL');
    await waitForExit(descendants);
    this.#state = 'dead';
  }
}
