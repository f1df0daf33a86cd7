/**
 * A slot on this machine that one test process holds at a time. The test command runs two
 * packages' tests side by side; load tests take the slot so that two of them never share the
 * cores — their figures would measure each other, and a 2 s session starved of CPU by the other
 * package's load is lost for a reason that has nothing to do with the code under test.
 *
 * The slot schedules; it protects nothing. It is a file created exclusively with the holder's
 * pid in it; a holder that died without removing it is recognised by its pid and replaced.
 * @module
 */
import { readFileSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from './process-group.js';

/** How {@link takeMachineSlot} waits. */
export interface MachineSlotOptions {
  /** Give up after this long (default 15 minutes: longer than any load test holds it). */
  readonly waitMs?: number;
  /** Called once when the slot is busy and the caller starts waiting, with the holder's pid. */
  readonly onWait?: (holderPid: number) => void;
}

/** Re-checks a busy slot this often when no file event arrives (a holder that died, a missed event). */
const RECHECK_MS = 1_000;

/** Creates the slot file for this process, or returns the pid holding it. */
function tryTake(path: string): number | null {
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let holder: number;
  try {
    holder = Number(readFileSync(path, 'utf8'));
  } catch {
    return tryTake(path); // removed between the create and the read
  }
  // A file still being written reads empty: treat it as held, and look again.
  if (Number.isInteger(holder) && holder > 0 && !isProcessAlive(holder)) {
    try {
      unlinkSync(path);
    } catch {}
    return tryTake(path);
  }
  return holder || -1;
}

/**
 * Waits until this process holds the machine-wide slot `name`, and returns its release (which
 * is also run if the process exits holding it). Rejects after `waitMs`.
 */
export async function takeMachineSlot(name: string, options: MachineSlotOptions = {}): Promise<() => void> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new TypeError(`machine slot name must be [a-z0-9-]+, got ${name}`);
  const file = `lockstep-slot-${name}`;
  const path = join(tmpdir(), file);
  const deadline = performance.now() + (options.waitMs ?? 15 * 60_000);
  let told = false;
  for (;;) {
    const holder = tryTake(path);
    if (holder === null) break;
    if (!told) options.onWait?.(holder);
    told = true;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`machine slot ${name}: still held by pid ${holder} after waiting`);
    await new Promise<void>((resolve) => {
      const watcher = watch(tmpdir(), (_event, changed) => {
        if (changed === file) done();
      });
      const timer = setTimeout(done, Math.min(RECHECK_MS, left));
      function done() {
        clearTimeout(timer);
        watcher.close();
        resolve();
      }
    });
  }
  const release = () => {
    process.removeListener('exit', release);
    try {
      if (Number(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
    } catch {}
  };
  process.on('exit', release);
  return release;
}
