#!/usr/bin/env node
/**
 * `lockstep-compare compare [--only a,b] [--url URL ...] [--out DIR] [--no-bench]`
 * (`pnpm compare` in the repository): runs the conformance suite and the benchmarks on
 * every backend it can provision, prints the matrix, writes report.json/md/html.
 * @module
 */
import { resolve } from 'node:path';
import { parseCompareArgs, requiredCompareBackends, USAGE, UsageError } from './compare/args.js';
import { runCompare } from './compare/run.js';
import { renderMatrix } from './report/terminal.js';
import { writeReport } from './report/write.js';

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

// A reader that goes away (`pnpm compare | head`) must not kill the run half-way, leaving
// servers and temp dirs behind: ignore EPIPE and finish.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

/** The running backend's stop, for an interrupt. */
let stopActive: (() => Promise<void>) | undefined;

async function interrupted(signal: NodeJS.Signals): Promise<void> {
  progress(`compare: ${signal}, stopping`);
  const stop = stopActive;
  stopActive = undefined;
  await Promise.race([stop?.().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  const testing = await import('@lockstep/testing').catch(() => undefined);
  await testing?.stopAllServers().catch(() => {});
  process.exit(130);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, (s) => void interrupted(s));

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== 'compare')
    throw new UsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
  const args = parseCompareArgs(rest);
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
  });
  const dir = resolve(args.out);
  const written = await writeReport(dir, outcome.report);

  process.stdout.write(`\n${renderMatrix(outcome.report, { bench: args.bench })}\n`);
  for (const note of outcome.benchNotes) progress(`bench note: ${note}`);
  progress(`report: ${written.json}\n        ${written.markdown}\n        ${written.html}`);
  progress(`compare finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  let exitCode = 0;
  if (outcome.failures.length > 0) {
    progress(`${outcome.failures.length} test(s) failed:\n  ${outcome.failures.join('\n  ')}`);
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
  async (code) => {
    // Servers started through @lockstep/testing are stopped by their profiles; this is the
    // safety net for anything a failure left behind, before the process ends.
    const testing = await import('@lockstep/testing').catch(() => undefined);
    await testing?.stopAllServers().catch(() => {});
    process.exit(code);
  },
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
