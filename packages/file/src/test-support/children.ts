/**
 * Contender processes and lock-file inspection for the tests.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encodeName, type ResourceRef } from '@lockstep/core/driver';
import { withFileLock } from '../flock.js';
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
  /** Whether a proclaim was accepted (a `proclaimed` answer), and the error code if not. */
  readonly ok?: boolean;
  readonly code?: string;
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

/**
 * Starts a contender that holds (`mode: 'hold'`) and resolves once it reported its grant, with
 * the grant's fencing token (the term, in an election).
 */
export async function startHolder(
  config: Omit<ContenderConfig, 'mode'>,
): Promise<Contender & { readonly token: bigint }> {
  const contender = startContender({ ...config, mode: 'hold' });
  const { token } = await contender.next('acquired');
  return { ...contender, token: BigInt(token!) };
}

/** SIGKILLs `contender` and resolves once it has exited. */
export async function killed(contender: Contender): Promise<void> {
  const exited = new Promise((resolve) => contender.child.once('exit', resolve));
  contender.child.kill('SIGKILL');
  await exited;
}

/**
 * SIGSTOPs `child` while this process holds the critical section of the file at `path`, and
 * lets go only once the kernel shows it stopped: a process stopped inside a section would hold
 * up every section of the file for as long as their patience lasts, where a test means a process
 * stopped between them (a waiter or holder that merely stops renewing).
 */
export function stopOutsideSection(child: ChildProcess, path: string): Promise<void> {
  return withFileLock(path, () => {
    child.kill('SIGSTOP');
    const deadline = performance.now() + 5_000;
    while (!isStopped(child.pid!) && performance.now() < deadline) {}
  });
}

/** Whether the process is stopped, as /proc says (`true` where there is no /proc to ask). */
function isStopped(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  // The state follows the parenthesised command name, which may itself hold spaces.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'T' || state === 't';
}

/** SIGKILLs every contender still running (after a test, passing or not). */
export function killContenders(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Which primitive's file a helper reads. */
export type Primitive = 'lock' | 'semaphore' | 'rwlock' | 'election';

/** The path of the `primitive` named `name` under `dir` with the default prefix. */
export function fileOf(dir: string, name: string, primitive: Primitive = 'lock'): string {
  const layout = new Layout(realpathSync(dir), encodeName('lockstep'));
  const ref = { segment: encodeName(name) } as ResourceRef;
  const files = {
    lock: layout.lockFile,
    semaphore: layout.semaphoreFile,
    rwlock: layout.rwlockFile,
    election: layout.electionFile,
  } as const;
  return files[primitive].call(layout, ref);
}

/** The record of the `primitive` named `name`, or `undefined` before its first write. */
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

/** The waiting tickets of the `primitive` named `name`, first come first. */
export function ticketsOf(dir: string, name: string, primitive: Primitive = 'lock'): readonly Ticket[] {
  return recordOf(dir, name, primitive)?.queue ?? [];
}

/** The holders recorded for the `primitive` named `name` (whether or not their leases still run). */
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

/**
 * Resolves after the holders of `name` renewed `times` times: each renewal is a write to the
 * file, which wakes every waiting room watching it, so by then every waiter has looked again.
 */
export async function renewalsSeen(
  dir: string,
  name: string,
  primitive: Primitive,
  times: number,
): Promise<void> {
  const deadlines = () =>
    holdersOf(dir, name, primitive)
      .map((h) => h.deadline)
      .join(' ');
  let seen = 0;
  let last = deadlines();
  await eventually(`${times} renewals of ${name}`, () => {
    const now = deadlines();
    if (now !== last) {
      seen++;
      last = now;
    }
    return seen >= times;
  });
}
