/**
 * The `machine` section of a report, read from the running process.
 * @module
 */
import os from 'node:os';
import type { MachineInfo } from './types.js';

/**
 * Describes this machine: Node version, platform, architecture, logical CPUs available to
 * the process, CPU model, total memory (GiB, one decimal), and the OS release and load
 * average at the time (a busy machine explains noisy figures).
 */
export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    osRelease: os.release(),
    loadAverage: loadAverage(),
  };
}

/** The 1, 5 and 15 minute load averages now, to two decimals. */
export function loadAverage(): number[] {
  return os.loadavg().map((load) => Math.round(load * 100) / 100);
}
