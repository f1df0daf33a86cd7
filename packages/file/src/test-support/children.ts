/**
 * Contender processes and lock-file inspection for the tests.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encodeName, type ResourceRef } from '@lockstep/core';
import { Layout } from '../layout.js';
import type { Holder, LeaseRecord, Ticket } from '../queue.js';
import type { ContenderConfig } from './contender.js';

/** One line a contender reported. */
export interface ContenderEvent {
  readonly event: string;
  readonly pid: number;
  readonly token?: string;
  /** The host's monotonic clock when it happened (`monotonicNowMs`). */
  readonly at?: number;
  /** For a grant: the host's monotonic clock just before its acquire was called. */
  readonly requestedAt?: number;
  /** Critical sections the contender had entered (a `count` answer). */
  readonly sections?: number;
}

/** A running contender process. */
export interface Contender {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every event reported so far, in order. */
  readonly events: ContenderEvent[];
  /**
   * Resolves with the first event named `event` (already reported or still to come), or with the
   * `nth` one (counted from 0).
   */
  next(event: string, nth?: number): Promise<ContenderEvent>;
  /** Writes one line to the contender's stdin. */
  send(line: string): void;
}

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const script = fileURLToPath(new URL('./contender.ts', import.meta.url));
const running = new Set<ChildProcess>();

/** Starts a contender; {@link killContenders} ends every one still running. */
export function startContender(config: ContenderConfig): Contender {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@lockstep/source', script, JSON.stringify(config)],
    { stdio: ['pipe', 'pipe', 'inherit'], cwd: packageDir },
  );
  running.add(child);
  child.on('exit', () => running.delete(child));
  const events: ContenderEvent[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    events.push(JSON.parse(line) as ContenderEvent);
    for (const wake of waiters.splice(0)) wake();
  });
  const next = (event: string, nth = 0) =>
    new Promise<ContenderEvent>((resolve, reject) => {
      const check = () => {
        const found = events.filter((e) => e.event === event)[nth];
        if (found) return resolve(found);
        if (child.exitCode !== null || child.signalCode !== null)
          return reject(new Error(`contender exited before "${event}"`));
        waiters.push(check);
      };
      child.once('exit', () => {
        for (const wake of waiters.splice(0)) wake();
      });
      check();
    });
  return { child, pid: child.pid!, events, next, send: (line) => child.stdin!.write(`${line}\n`) };
}

/** SIGKILLs every contender still running (after a test, passing or not). */
export function killContenders(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Which primitive's file a helper reads. */
export type Primitive = 'lock' | 'semaphore';

/** The path of lock or semaphore `name` under `dir` with the default prefix. */
export function fileOf(dir: string, name: string, primitive: Primitive = 'lock'): string {
  const layout = new Layout(realpathSync(dir), encodeName('lockstep'));
  const ref = { segment: encodeName(name) } as ResourceRef;
  return primitive === 'lock' ? layout.lockFile(ref) : layout.semaphoreFile(ref);
}

/** The record of lock or semaphore `name`, or `undefined` before its first write. */
export function recordOf(dir: string, name: string, primitive: Primitive = 'lock'): LeaseRecord | undefined {
  let text: string;
  try {
    text = readFileSync(fileOf(dir, name, primitive), 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n')[0]!;
  return line === '' ? undefined : (JSON.parse(line) as LeaseRecord);
}

/** The waiting tickets of lock or semaphore `name`, first come first. */
export function ticketsOf(dir: string, name: string, primitive: Primitive = 'lock'): readonly Ticket[] {
  return recordOf(dir, name, primitive)?.queue ?? [];
}

/** The holders recorded for lock or semaphore `name` (whether or not their leases still run). */
export function holdersOf(dir: string, name: string, primitive: Primitive = 'lock'): readonly Holder[] {
  return recordOf(dir, name, primitive)?.holders ?? [];
}

/**
 * Resolves once `condition` holds, checking every 10 ms: for states that only show in the lock
 * file (a ticket written by another process), which no event announces.
 * @throws Error naming `what` after `timeoutMs`.
 */
export async function eventually(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
