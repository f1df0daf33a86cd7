/**
 * Runs the `lockstep` executable from its sources as a real child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));

/** A running `lockstep` process and what it printed. */
export interface CliRun {
  readonly child: ChildProcess;
  /** Resolves once it exited: its code (or 128 + signal) and its output. */
  readonly done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
  /** Resolves when stderr (or stdout) has printed something matching `pattern`. */
  printed(pattern: RegExp, ms?: number): Promise<void>;
}

/** Starts `lockstep ...args`; it is killed when the test ends if still running. */
export function lockstep(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, ['--import', tsx, '--conditions=@lockstep/source', cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    for (const w of waiters) w();
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const printed = (pattern: RegExp, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(stderr) || pattern.test(stdout)) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `lockstep did not print ${pattern} within ${ms} ms; stderr: ${stderr}; stdout: ${stdout}`,
          ),
        );
      }, ms);
      waiters.add(check);
      check();
    });
  return { child, done, printed };
}
