/**
 * Runs `holder.ts` in a child process (TypeScript through tsx, workspace sources through
 * the `@lockstep/source` condition) and exposes its JSON lines as they arrive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface HolderProcess {
  readonly child: ChildProcess;
  /** Resolves with the next JSON line that has `key`. */
  next<T = unknown>(key: string, timeoutMs?: number): Promise<T>;
  kill(): void;
}

export function spawnHolder(url: string, name: string, ttlMs: number): HolderProcess {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const script = fileURLToPath(new URL('./holder.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=@lockstep/source', '--import', pathToFileURL(tsx).href, script, url, name, String(ttlMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
    for (const wake of waiters) wake();
  });
  return {
    child,
    next: <T>(key: string, timeoutMs = 20_000) =>
      new Promise<T>((resolve, reject) => {
        const check = () => {
          const i = lines.findIndex((l) => key in l);
          if (i < 0) return;
          const [line] = lines.splice(i, 1);
          cleanup();
          resolve(line![key] as T);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`holder printed no "${key}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    },
  };
}
