/**
 * Starts the child client (client.ts / client.js) as a real process and reads its events.
 *
 * From TypeScript sources (vitest, `pnpm compare` via tsx) the child runs as
 * `node --import tsx --conditions=@lockstep/source client.ts`, so workspace packages resolve
 * to their sources as in the parent; from the published build it runs `dist/child/client.js`.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { scriptCommand } from './command.js';
import type { ChildCommand, ChildEvent, ChildOptions } from './protocol.js';

/** A running child client. */
export interface ChildClient {
  readonly pid: number;
  /** Resolves with the next event of `kind` (events already received count), or rejects after `ms`. */
  next<K extends ChildEvent['event']>(kind: K, ms: number): Promise<Extract<ChildEvent, { event: K }>>;
  /** Every event so far. */
  readonly events: readonly ChildEvent[];
  /** Sends a command line. */
  send(command: ChildCommand): void;
  /** Sends a signal to the process. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the exit code (or the signal name) once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Whether it has exited. */
  readonly alive: boolean;
  /** What it wrote to stderr (for failure messages). */
  stderr(): string;
  /** Ends it for good: SIGCONT (in case it is stopped) then SIGKILL; resolves when it exited. */
  dispose(): Promise<void>;
}

/** How to start the child client: its source beside this file, or (in dist, where this code lives
 * in a bundle at the dist root) the built `child/client.js`. */
function childCommand(): string[] {
  return scriptCommand(import.meta.url, './client.ts', './child/client.js');
}

/** Starts a child client and returns once the process is spawned (not once it connected). */
export function spawnChild(options: ChildOptions): ChildClient {
  const child: ChildProcess = spawn(process.execPath, [...childCommand(), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: process.env,
  });
  const events: ChildEvent[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  let alive = true;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  child.stdin!.on('error', () => {});
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    try {
      events.push(JSON.parse(line) as ChildEvent);
    } catch {
      stderr = `${stderr}\n[stdout] ${line}`.slice(-4_000);
    }
    for (const listener of listeners) listener();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => {
      child.once('exit', (code, signal) => {
        alive = false;
        resolve({ code, signal, at: Date.now() });
        for (const listener of listeners) listener();
      });
    },
  );
  child.once('error', (error) => {
    stderr += `\n[spawn] ${error.message}`;
  });

  const handle: ChildClient = {
    pid: child.pid ?? -1,
    events,
    get alive() {
      return alive;
    },
    next: (kind, ms) =>
      new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < events.length; seen++) {
            const event = events[seen]!;
            if (event.event === kind) return finish(() => resolve(event as never));
            if (event.event === 'error')
              return finish(() => reject(new Error(`child client failed: ${event.message}`)));
          }
          if (!alive) {
            finish(() =>
              reject(
                new Error(
                  `child client exited before "${kind}"; stderr: ${stderr.trim().slice(-1_000) || '(empty)'}`,
                ),
              ),
            );
          }
        };
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new Error(
                  `child client sent no "${kind}" within ${ms} ms; stderr: ${stderr.trim().slice(-1_000) || '(empty)'}`,
                ),
              ),
            ),
          ms,
        );
        listeners.add(check);
        check();
      }),
    send: (command) => {
      if (alive) child.stdin!.write(`${command}\n`);
    },
    signal: (signal) => {
      if (alive) child.kill(signal);
    },
    exited,
    stderr: () => stderr,
    dispose: async () => {
      if (alive) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
      lines.close();
    },
  };
  return handle;
}
