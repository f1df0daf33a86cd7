/**
 * Everything this process started, so that it can all be stopped: by {@link stopAllServers},
 * at process exit, and on SIGINT, SIGTERM and SIGHUP. (An abrupt death is the watchdog's job.)
 * @module
 */

/** Something we started and must not leave behind. */
export interface Tracked {
  /** Orderly stop; idempotent. */
  stop(): Promise<void>;
  /** Synchronous last resort for exit hooks: SIGKILL and remove files, no waiting. */
  killNow(): void;
}

const tracked = new Set<Tracked>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const item of tracked) {
    try {
      item.killNow();
    } catch {}
  }
  tracked.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  // Our listener was added with once(): if nobody else listens, re-raise so the default
  // action (terminate) still happens, as if we had never been here.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, onSignal);
}

export function track(item: Tracked): void {
  installHooks();
  tracked.add(item);
}

export function untrack(item: Tracked): void {
  tracked.delete(item);
}

/** How many servers, clusters and proxies this process currently has running. */
export function trackedCount(): number {
  return tracked.size;
}

/**
 * Stops every server, cluster node and fault proxy this process started and has not stopped yet,
 * in parallel, and waits for them. Never throws: a failure to stop one does not keep the others running.
 */
export async function stopAllServers(): Promise<void> {
  await Promise.allSettled([...tracked].map((item) => item.stop()));
}
