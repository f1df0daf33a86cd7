/**
 * A pending wait is work in progress: the process must not exit under it. Node exits when
 * nothing ref'd is left on the event loop, and the timers a wait depends on are not ref'd
 * (`AbortSignal.timeout()` is unref'd by design; leases and renewals are unref'd so that a
 * process holding a lock can still end). Without a hold, `await lock.acquire({ waitMs })`
 * in a process with nothing else to do ends the process mid-await: no grant, no timeout.
 *
 * One ref'd timer serves every pending wait in the process, ref'd while at least one wait
 * is pending and unref'd otherwise — toggling a timer costs far less than creating one
 * per wait, and an uncontended acquire pays only two counter updates.
 * @module
 */

let pending = 0;
let timer: NodeJS.Timeout | undefined;

/** Longest delay a Node timer takes without warning; the timer never needs to fire. */
const NEVER_MS = 2 ** 31 - 1;

/**
 * Keeps the process alive until the returned function is called (once; later calls are
 * no-ops). Call it when a wait begins and the returned function when it settles.
 */
export function holdProcessOpen(): () => void {
  if (pending++ === 0) {
    timer ??= setInterval(() => {}, NEVER_MS);
    timer.ref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--pending === 0) timer?.unref();
  };
}

/** How many waits hold the process open now (for tests). @internal */
export function pendingHolds(): number {
  return pending;
}
