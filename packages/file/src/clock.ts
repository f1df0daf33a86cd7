/**
 * Lease deadlines are compared between processes on one host, so they use the system-wide
 * monotonic clock (`CLOCK_MONOTONIC` behind `process.hrtime`), immune to wall-clock jumps.
 * Fractional milliseconds: `performance.now()` reads the same clock, so a deadline written
 * as `monotonicNowMs() + ttl` never ends before `performance.now() + ttl` read just before.
 */
export function monotonicNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Whether a process id is alive on this host (EPERM means alive but not ours). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
