import { readlinkSync } from 'node:fs';

/**
 * Lease deadlines are compared between processes on one host, so they use the system-wide
 * monotonic clock (`CLOCK_MONOTONIC` behind `process.hrtime`), immune to wall-clock jumps.
 * Fractional milliseconds: `performance.now()` reads the same clock, so a deadline written
 * as `monotonicNowMs() + ttl` never ends before `performance.now() + ttl` read just before.
 */
export function monotonicNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * This process's PID namespace (`pid:[4026531836]` on Linux; empty where there is no /proc).
 * Containers that share a directory may each have their own: there, a pid means another
 * process, or none, and says nothing about whether the writer of a record lives.
 */
export const PID_NAMESPACE: string = (() => {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
})();

/**
 * Whether the process `pid` of PID namespace `pidns` is alive (EPERM means alive but not
 * ours). A pid from another namespace cannot be checked from here: it counts as alive, and
 * only its lease ends its claim — judging it dead could hand a live holder's lock to another.
 */
export function processAlive(pid: number, pidns: string | undefined = PID_NAMESPACE): boolean {
  if (pidns !== PID_NAMESPACE) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
