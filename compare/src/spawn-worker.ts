/**
 * Runs one backend in a worker process and turns whatever happens to it into that backend's
 * row: the worker's final row when it finished, else its last row completed with why it
 * ended (the crash's reason, or how the process died) — never an exception.
 * @module
 */
import { spawn } from 'node:child_process';
import { scriptCommand, TEST_IDS } from '@lockstep/conformance';
import { type BackendJob, type BackendOutcome, emptyRow, type Row } from './backend.js';
import { BENCH_METRICS } from './report/types.js';
import type { WorkerMessage } from './worker-protocol.js';

/** How much of a dead worker's stderr its reason quotes. */
const STDERR_TAIL = 1_500;

/** `node` arguments that start the worker: its source, or (in dist, where this code lives in a
 * bundle at the dist root) the built `worker.js`. */
function workerCommand(): string[] {
  return scriptCommand(import.meta.url, './worker.ts', './worker.js');
}

/** A handle on a running worker. */
export interface RunningWorker {
  /** Resolves with the backend's outcome once the worker has exited. */
  readonly outcome: Promise<BackendOutcome & { readonly crashed: boolean }>;
  /** Asks the worker to undo what it provisioned and stop (SIGTERM). */
  stop(): void;
}

/** The row of a backend whose worker ended early, completed from what it had sent. */
export function completeCrashedRow(job: BackendJob, last: Row | undefined, reason: string): Row {
  const base = last ?? emptyRow(job);
  const reported = new Set(base.tests.map((test) => test.id));
  const notRun = TEST_IDS.filter((id) => !reported.has(id)).map((id) => ({
    id,
    status: 'fail' as const,
    ms: 0,
    reason: `not run: ${reason}`,
  }));
  const missing = job.bench
    ? BENCH_METRICS.filter(
        (metric) =>
          !(metric in base.bench) && !(base.missing ?? []).some((m) => m.metric === metric && !m.library),
      ).map((metric) => ({ metric, reason: `not measured: ${reason}` }))
    : [];
  return {
    ...base,
    tests: [...base.tests, ...notRun],
    ...(missing.length > 0 ? { missing: [...(base.missing ?? []), ...missing] } : {}),
    error: reason,
  };
}

/**
 * Starts the worker for `job`. Its stderr (progress) is passed through to ours, and its stdout
 * too — to our stderr, since stdout carries results only.
 */
export function startWorker(job: BackendJob): RunningWorker {
  const child = spawn(process.execPath, [...workerCommand(), JSON.stringify(job)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
    env: process.env,
  });
  let last: Row | undefined;
  let done: BackendOutcome | undefined;
  let crash: string | undefined;
  let stderrTail = '';
  child.stdout!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  child.stderr!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'progress') last = message.report;
    else if (message.type === 'done') done = { report: message.report, unprovisioned: message.unprovisioned };
    else crash = message.reason;
  });
  const outcome = new Promise<BackendOutcome & { crashed: boolean }>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('close', (code, signal) => {
      if (done !== undefined && crash === undefined) return resolve({ ...done, crashed: false });
      const how =
        crash !== undefined
          ? `the run crashed: ${crash}`
          : spawnError !== undefined
            ? `the worker could not start: ${spawnError.message}`
            : `the worker exited (${signal ?? `code ${code}`}) before finishing; its last output: ${stderrTail.trim() || '(none)'}`;
      resolve({ report: completeCrashedRow(job, done?.report ?? last, how), crashed: true });
    });
  });
  return {
    outcome,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
