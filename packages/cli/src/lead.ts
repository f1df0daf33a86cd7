/**
 * `lockstep lead URL NAME -- command args…`: campaign, run the command while leading, and
 * campaign again when the command ends or leadership is lost — until `lockstep` is told to stop
 * (SIGINT or SIGTERM, passed on to a running command first). The command's environment has
 * `LOCKSTEP_TERM` (also as `LOCKSTEP_FENCING_TOKEN`: larger for every new leader) and
 * `LOCKSTEP_ELECTION_NAME`. A command that keeps failing is restarted with backoff.
 * @module
 */
import { constants, hostname } from 'node:os';
import { sleep } from '@lockstep/core/driver';
import type { LeadArgs } from './args.js';
import { open } from './connect.js';
import { type Io, Reporter } from './report.js';
import { supervise } from './supervise.js';

/** Pause before campaigning again: doubles after each quick failure, up to this. */
const MAX_PAUSE_MS = 10_000;

/** Runs `lockstep lead`; resolves with the exit code once told to stop. */
export async function leadWhileElected(args: LeadArgs, io: Io): Promise<number> {
  const report = new Reporter(io, args.json);
  const coordinator = await open(args.url);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => stop.abort(signal);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onSignal);
  const value = args.value ?? `${hostname()}:${process.pid}`;
  /** The code of the command that ran last, when a stop came while it ran. */
  let stoppedCode: number | undefined;
  let pauseMs = 250;
  try {
    const election = coordinator.election(args.name, args.ttlMs === undefined ? {} : { ttlMs: args.ttlMs });
    while (!stop.signal.aborted) {
      const leadership = await election.campaign({ value, signal: stop.signal }).catch((error: unknown) => {
        if (stop.signal.aborted) return undefined;
        throw error;
      });
      if (!leadership) break;
      report.event('leading', `leading "${args.name}" (term ${leadership.term})`, {
        name: args.name,
        term: leadership.term,
      });
      const startedAt = performance.now();
      const outcome = await supervise({
        argv: args.argv,
        env: {
          LOCKSTEP_ELECTION_NAME: args.name,
          LOCKSTEP_TERM: leadership.term.toString(),
          LOCKSTEP_FENCING_TOKEN: leadership.term.toString(),
        },
        lost: leadership.signal,
        graceMs: args.graceMs,
        what: `leadership of "${args.name}"`,
        report,
      });
      await leadership.resign().catch(() => false);
      if (stop.signal.aborted) {
        stoppedCode = outcome.code;
        break;
      }
      // A command that ran a while earned a quick restart; one that keeps dying waits longer.
      pauseMs = performance.now() - startedAt > MAX_PAUSE_MS ? 250 : Math.min(pauseMs * 2, MAX_PAUSE_MS);
      report.event('campaigning', `campaigning again for "${args.name}" in ${pauseMs} ms`, {
        name: args.name,
      });
      await sleep(pauseMs, stop.signal);
    }
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, onSignal);
    await coordinator.close();
  }
  // Stopped while a command ran: its code. While campaigning or pausing: as the signal would.
  if (stoppedCode !== undefined) return stoppedCode;
  const signal = stop.signal.reason as NodeJS.Signals;
  return 128 + (constants.signals[signal] ?? 0);
}
