/**
 * Signals to a server and everything it forked, and liveness checks that treat zombies as dead.
 *
 * Every server runs as the leader of its own process group (spawned `detached`), so a group
 * signal reaches a wrapper and its child together. That is not enough for PostgreSQL: each child
 * of the postmaster calls setsid(), leaving our group. So faults (stop, continue, kill) also go to
 * every descendant found through /proc, and stop goes to the parent first, so nothing new is
 * forked while the tree is being frozen.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Sends `signal` to every process in group `pgid`. Returns false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * True while `pid` is a running (or stopped) process. A zombie — exited, not yet reaped by a parent
 * that is itself gone — counts as dead: it holds no port, no file and no CPU.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (not Linux): kill(0) succeeded, so it exists
  }
}

interface ProcEntry {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
}

function readProc(): ProcEntry[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const result: ProcEntry[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the parenthesised command name (which may contain ')'): state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      result.push({
        pid: Number(entry),
        state: fields[0]!,
        ppid: Number(fields[1]),
        pgrp: Number(fields[2]),
      });
    } catch {}
  }
  return result;
}

/** Every live descendant of `pid` (children, their children, ...), from one /proc snapshot. Linux only. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readProc()) {
    if (entry.state === 'Z' || entry.state === 'X') continue;
    const siblings = children.get(entry.ppid) ?? [];
    siblings.push(entry.pid);
    children.set(entry.ppid, siblings);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Sends `signal` to one process; a process that is already gone is not an error. */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {}
}

/**
 * Sends `signal` to the group led by `leader` and to every descendant of it. SIGSTOP freezes the
 * leader first, so the set of descendants cannot grow while we walk it. Returns the descendants
 * signalled, so a caller can check later that they are gone.
 */
export function signalTree(leader: number, signal: NodeJS.Signals): number[] {
  if (signal === 'SIGSTOP') signalGroup(leader, signal);
  const descendants = descendantsOf(leader);
  if (signal !== 'SIGSTOP') signalGroup(leader, signal);
  for (const pid of descendants) signalPid(pid, signal);
  return descendants;
}

/** Live members of process group `pgid` (Linux only; empty elsewhere). */
export function processGroupMembers(pgid: number): number[] {
  return readProc()
    .filter((entry) => entry.pgrp === pgid && entry.state !== 'Z' && entry.state !== 'X')
    .map((entry) => entry.pid);
}

/** Whether `pid` is stopped by a signal (state T), or gone. */
export function isStoppedOrGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}
