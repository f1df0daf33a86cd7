/**
 * Running the wrapped command: its environment, signals passed on, and — when the lock or the
 * leadership it runs under is lost — SIGTERM, then SIGKILL after the grace period.
 * @module
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { EXIT_SPAWN_FAILED } from './exit-codes.js';
import type { Reporter } from './report.js';

/** Signals passed on to the command (and, while waiting, turned into a cancelled wait). */
export const FORWARDED: readonly NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
];

/** What to run, and under what. */
export interface Supervised {
  readonly argv: readonly string[];
  /** Added to the command's environment. */
  readonly env: Record<string, string>;
  /** Aborts when the lock or leadership is lost. */
  readonly lost: AbortSignal;
  readonly graceMs: number;
  /** The lock or election, for messages (`"nightly"`). */
  readonly what: string;
  readonly report: Reporter;
}

/** How the command ended. */
export interface Outcome {
  /** Its exit code, 128 + N for signal N, or the spawn-failed code. */
  readonly code: number;
  /** Whether it was stopped because the lock or leadership was lost. */
  readonly lost: boolean;
}

/** Runs the command until it exits. */
export function supervise(job: Supervised): Promise<Outcome> {
  const [file, ...rest] = job.argv as [string, ...string[]];
  const child = spawn(file, rest, { stdio: 'inherit', env: { ...process.env, ...job.env } });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED) process.on(signal, forward);

  let lost = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = () => {
    lost = true;
    const reason = job.lost.reason as (Error & { reason?: string }) | undefined;
    job.report.event(
      'lost',
      `lost ${job.what} (${reason?.message ?? 'unknown reason'}); stopping the command`,
      {
        name: job.what,
        reason: reason?.reason,
      },
    );
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), job.graceMs);
  };
  job.lost.addEventListener('abort', onLost, { once: true });

  return new Promise<Outcome>((resolve) => {
    const done = (code: number) => {
      clearTimeout(killTimer);
      job.lost.removeEventListener('abort', onLost);
      for (const signal of FORWARDED) process.off(signal, forward);
      resolve({ code, lost });
    };
    child.once('error', (error) => {
      job.report.event('spawn-failed', `could not start ${file}: ${error.message}`, {
        file,
        message: error.message,
      });
      done(EXIT_SPAWN_FAILED);
    });
    child.once('exit', (code, signal) => {
      job.report.event('exited', `${file} exited with ${code ?? signal}`, { code, signal });
      done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
