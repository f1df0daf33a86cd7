/**
 * Runs a script of this folder in a child process (TypeScript through tsx, workspace sources
 * through the `@lockstep/source` condition) and hands over its JSON lines as they arrive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';

/** A child process printing one JSON object per line. */
export interface ChildScript {
  readonly child: ChildProcess;
  /** Resolves with the next line whose `event` is `event`. */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Starts `script` (a file of this folder) with `args`; killed when the current test ends. */
export function spawnScript(script: string, args: readonly string[]): ChildScript {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const path = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=@lockstep/source', '--import', pathToFileURL(tsx).href, path, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  });
  const lines: Array<Record<string, unknown>> = [];
  const wakes = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
    for (const wake of [...wakes]) wake();
  });
  return {
    child,
    next: (event, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const i = lines.findIndex((l) => l.event === event);
          if (i < 0) return;
          done();
          resolve(lines.splice(i, 1)[0]!);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${script} printed no "${event}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          wakes.delete(check);
        };
        wakes.add(check);
        check();
      }),
  };
}
