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
import { constants } from 'node:os';
import { type LockHandle, LockTimeoutError } from '@lockstep/core';
import type { RunArgs } from './args.js';
import { open } from './connect.js';
import { EXIT_BUSY, EXIT_LOST } from './exit-codes.js';
import { type Io, Reporter } from './report.js';
import { FORWARDED, supervise } from './supervise.js';

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
async function runCommand(args: RunArgs, handle: LockHandle, report: Reporter): Promise<number> {
  const token = tokenOf(handle);
  const outcome = await supervise({
    argv: args.argv,
    env: { LOCKSTEP_LOCK_NAME: args.name, ...(token === undefined ? {} : { LOCKSTEP_FENCING_TOKEN: token }) },
    lost: handle.signal,
    graceMs: args.graceMs,
    what: `"${args.name}"`,
    report,
  });
  return outcome.lost ? EXIT_LOST : outcome.code;
}

function tokenOf(handle: LockHandle): string | undefined {
  try {
    return handle.fencingToken.toString();
  } catch {
    return undefined; // fencing: 'none' (Redlock)
  }
}
