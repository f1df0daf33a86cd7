/**
 * The time source for the emulator's server-side timers: session TTL invalidation and lock-delay.
 * Blocking-query waits always use real time, because they are about how long an HTTP request hangs.
 *
 * Tests may inject a manual clock to check timing rules exactly (for example the 60 s lock-delay cap)
 * without waiting in real time.
 */
export interface EmulatorClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Runs `callback` once, `delayMs` from now; returns a handle for `clearTimer`. */
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Real monotonic time. Timers are unref'd: the HTTP server, not a pending TTL, keeps a process alive. */
export const realClock: EmulatorClock = {
  now: () => performance.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
