#!/usr/bin/env node
/**
 * `lockstep-compare [--only a,b] [--url URL ...] [--out DIR] [--no-bench]` (`pnpm compare` in
 * the repository): runs the conformance suite and the benchmarks on every backend it can
 * provision, each in a process of its own, prints the matrix on stdout and writes
 * report.json/md/html. Everything else (progress, notes) goes to stderr.
 * @module
 */
import { resolve } from 'node:path';
import { parseCompareArgs, requiredCompareBackends, USAGE, UsageError } from './args.js';
import { renderMatrix } from './report/terminal.js';
import { writeReport } from './report/write.js';
import { runCompare } from './run.js';
import type { RunningWorker } from './spawn-worker.js';

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

// A reader that goes away (`lockstep-compare | head`) must not kill the run half-way, leaving
// servers and data behind: ignore EPIPE and finish.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

/** The running backend's worker, for an interrupt. */
let active: RunningWorker | undefined;

async function interrupted(signal: NodeJS.Signals): Promise<void> {
  progress(`compare: ${signal}, stopping`);
  const worker = active;
  active = undefined;
  if (worker) {
    worker.stop();
    await Promise.race([worker.outcome, new Promise((done) => setTimeout(done, 35_000))]);
  }
  process.exit(130);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, (s) => void interrupted(s));

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCompareArgs(argv);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const started = performance.now();
  progress(`compare: ${args.backends.join(', ')}${args.bench ? '' : ' (no benchmarks)'}`);
  const outcome = await runCompare({
    backends: args.backends,
    urls: args.urls,
    bench: args.bench,
    log: progress,
    onActive: (worker) => {
      active = worker;
    },
  });
  const written = await writeReport(resolve(args.out), outcome.report);

  process.stdout.write(`\n${renderMatrix(outcome.report, { bench: args.bench })}\n`);
  for (const note of outcome.missing) progress(`not measured: ${note}`);
  progress(`report: ${written.json}\n        ${written.markdown}\n        ${written.html}`);
  progress(`compare finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  let exitCode = 0;
  if (outcome.failures.length > 0) {
    progress(`${outcome.failures.length} failure(s):\n  ${outcome.failures.join('\n  ')}`);
    exitCode = 1;
  }
  const required = requiredCompareBackends(process.env.LOCKSTEP_REQUIRE);
  for (const [backend, reason] of outcome.unprovisioned) {
    if (!required.has(backend)) continue;
    progress(`LOCKSTEP_REQUIRE lists ${backend}, but it was skipped: ${reason}`);
    exitCode = 1;
  }
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`compare: ${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(
      `compare: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
