/**
 * The process that runs one backend for `compare` (`node worker.js '<BackendJob JSON>'`, with
 * an IPC channel): whatever the backend, its adapter or a peer library does — an unhandled
 * `'error'` event, an uncaught exception, a crash — stays in this process. It sends its row
 * after every step and removes the run's data and stops its servers even when it crashes. It
 * reports progress on stderr; whatever lands on its stdout the parent passes to its own stderr,
 * since the parent's stdout carries results only.
 * @module
 */
import { describeError } from '@lockstep/conformance/interop';
import { type BackendJob, type Row, runBackend } from './backend.js';
import type { WorkerMessage } from './worker-protocol.js';

/** Longest the data removal and server stop may take after a crash or a signal. */
const UNDO_MS = 30_000;

const job = JSON.parse(process.argv[2] ?? '{}') as BackendJob;
let undo: (() => Promise<void>) | undefined;
let ending = false;
let lastRow: Row | undefined;

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Undoes what is provisioned (bounded), then exits with `code`. */
async function end(code: number): Promise<never> {
  const pending = undo;
  undo = undefined;
  if (pending) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pending().catch((error: unknown) => log(`${job.step}: cleanup failed: ${describeError(error)}`)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, UNDO_MS);
      }),
    ]);
    clearTimeout(timer);
    // The removal's outcome is in the row: make sure the parent has it before we go.
    if (lastRow) await send({ type: 'progress', report: lastRow });
  }
  const testing = await import('@lockstep/testing').catch(() => undefined);
  await testing?.stopAllServers().catch(() => {});
  process.exit(code);
}

async function crashed(error: unknown): Promise<void> {
  if (ending) return;
  ending = true;
  const reason = describeError(error);
  log(`${job.step}: CRASHED — ${reason}`);
  await send({ type: 'crash', reason });
  await end(1);
}

process.on('uncaughtException', (error) => void crashed(error));
process.on('unhandledRejection', (error) => void crashed(error));
// SIGTERM from the parent; SIGINT from a terminal's Ctrl-C, which reaches the whole process
// group: either way the run's data is removed before the worker goes.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (ending) return;
    ending = true;
    log(`${job.step}: stopping (${signal}), removing the run's data`);
    void end(signal === 'SIGINT' ? 130 : 143);
  });
}
// The parent gone (killed, or its terminal closed): undo and leave.
process.on('disconnect', () => {
  if (ending) return;
  ending = true;
  void end(1);
});

async function main(): Promise<void> {
  const outcome = await runBackend(job, {
    log,
    onProgress: (report) => {
      lastRow = report;
      void send({ type: 'progress', report });
    },
    onActive: (pending) => {
      undo = pending;
    },
  });
  if (ending) return;
  ending = true;
  await send({ type: 'done', ...outcome });
  await end(0);
}

main().catch((error: unknown) => void crashed(error));
