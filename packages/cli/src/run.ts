/**
 * `lockstep run URL NAME -- command args…`: acquire, run the command while holding the lock,
 * release. The lock renews itself while the command runs; its fencing token is in the
 * command's environment (`LOCKSTEP_FENCING_TOKEN`) so the command can pass it to what it writes.
 *
 * If the lock is lost while the command runs (lease expired, session lost, backend gone for a
 * whole lease), the command is told to stop — SIGTERM, then SIGKILL after the grace period —
 * and `lockstep` exits with {@link EXIT_LOST}: the command may have run without the lock for a
 * moment, and a caller must be able to tell. Signals sent to `lockstep` are passed on to the
 * command; while still waiting for the lock they cancel the wait instead.
 * @module
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type LockHandle, LockTimeoutError } from '@lockstep/core';
import type { RunArgs } from './args.js';
import { open } from './connect.js';
import { EXIT_BUSY, EXIT_LOST, EXIT_SPAWN_FAILED } from './exit-codes.js';
import { type Io, Reporter } from './report.js';

/** Signals passed on to the command (and, while waiting, turned into a cancelled wait). */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Runs `lockstep run`; resolves with the exit code. */
export async function runUnderLock(args: RunArgs, io: Io): Promise<number> {
  const report = new Reporter(io, args.json);
  const coordinator = await open(args.url);
  try {
    const handle = await acquire(
      args,
      coordinator.lock(args.name, args.ttlMs === undefined ? {} : { ttlMs: args.ttlMs }),
      report,
    );
    if (typeof handle === 'number') return handle;
    try {
      return await runCommand(args, handle, report);
    } finally {
      await handle.release().catch(() => {});
    }
  } finally {
    await coordinator.close();
  }
}

/** Waits for the lock; a signal while waiting cancels the wait. Resolves with the handle or an exit code. */
async function acquire(
  args: RunArgs,
  lock: { acquire(o: { waitMs?: number; signal?: AbortSignal }): Promise<LockHandle> },
  report: Reporter,
): Promise<LockHandle | number> {
  const interrupted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupted.abort(signal);
  for (const signal of FORWARDED) process.on(signal, onSignal);
  try {
    const handle = await lock.acquire({
      ...(args.waitMs === undefined ? {} : { waitMs: args.waitMs }),
      signal: interrupted.signal,
    });
    const token = tokenOf(handle);
    report.event(
      'acquired',
      `holding "${args.name}"${token === undefined ? '' : ` (fencing token ${token})`}`,
      {
        name: args.name,
        fencingToken: token,
      },
    );
    return handle;
  } catch (error) {
    if (error instanceof LockTimeoutError) {
      report.event(
        'busy',
        `"${args.name}" is held by someone else${args.waitMs === 0 ? '' : ` (waited ${args.waitMs} ms)`}; not running the command`,
        {
          name: args.name,
          waitedMs: error.waitedMs,
        },
      );
      return EXIT_BUSY;
    }
    if (interrupted.signal.aborted) {
      const signal = interrupted.signal.reason as NodeJS.Signals;
      report.event('interrupted', `${signal} while waiting for "${args.name}"; not running the command`, {
        signal,
      });
      return 128 + (constants.signals[signal] ?? 0);
    }
    throw error;
  } finally {
    for (const signal of FORWARDED) process.off(signal, onSignal);
  }
}

/** Runs the command under `handle`; resolves with the exit code. */
function runCommand(args: RunArgs, handle: LockHandle, report: Reporter): Promise<number> {
  const [file, ...rest] = args.argv as [string, ...string[]];
  const token = tokenOf(handle);
  const child = spawn(file, rest, {
    stdio: 'inherit',
    env: {
      ...process.env,
      LOCKSTEP_LOCK_NAME: args.name,
      ...(token === undefined ? {} : { LOCKSTEP_FENCING_TOKEN: token }),
    },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED) process.on(signal, forward);

  let lost = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = () => {
    lost = true;
    const reason = handle.signal.reason as Error | undefined;
    report.event(
      'lost',
      `lost "${args.name}" (${reason?.message ?? 'unknown reason'}); stopping the command`,
      {
        name: args.name,
        reason: (reason as { reason?: string } | undefined)?.reason,
      },
    );
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), args.graceMs);
  };
  handle.signal.addEventListener('abort', onLost, { once: true });

  return new Promise<number>((resolve) => {
    const done = (code: number) => {
      clearTimeout(killTimer);
      handle.signal.removeEventListener('abort', onLost);
      for (const signal of FORWARDED) process.off(signal, forward);
      resolve(code);
    };
    child.once('error', (error) => {
      report.event('spawn-failed', `could not start ${file}: ${error.message}`, {
        file,
        message: error.message,
      });
      done(EXIT_SPAWN_FAILED);
    });
    child.once('exit', (code, signal) => {
      const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
      report.event('exited', `${file} exited with ${code ?? signal}`, { code, signal });
      done(lost ? EXIT_LOST : exitCode);
    });
  });
}

function tokenOf(handle: LockHandle): string | undefined {
  try {
    return handle.fencingToken.toString();
  } catch {
    return undefined; // fencing: 'none' (Redlock)
  }
}
