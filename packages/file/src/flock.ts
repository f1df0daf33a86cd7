/**
 * Short critical sections under a kernel file lock. Every check-and-change of a lock or
 * counter file happens inside one, so two processes can never both judge a lease stale and
 * both take it (the race of mkdir/mtime schemes). The kernel drops the lock when its holder
 * dies, so a crash inside a critical section cannot wedge anyone.
 *
 * The lock belongs to the open file description (Linux open-file-description locks, BSD
 * `flock` on macOS, `LockFileEx` on Windows), so two descriptors of one process exclude each
 * other like two processes do, and closing some other descriptor of the file keeps it.
 * @module
 */
import { closeSync, constants, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BackendUnavailableError } from '@lockstep/core';
import { sleep } from '@lockstep/core/driver';

/** The npm package that provides the file lock (prebuilt N-API binaries, no build step). */
export const LOCK_BINDING = 'fs-native-extensions';

interface LockBinding {
  /** Takes an exclusive lock on the whole file without blocking; `false` when another holds it. */
  tryLock(fd: number): boolean;
  unlock(fd: number): void;
}

let binding: LockBinding | undefined;

/**
 * Loads the native lock binding once.
 * @throws BackendUnavailableError naming the binding, what went wrong and what to do.
 */
export function loadLockBinding(): LockBinding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)(LOCK_BINDING) as LockBinding;
  } catch (error) {
    throw new BackendUnavailableError(
      'file',
      `the native file-lock binding "${LOCK_BINDING}" failed to load (${(error as Error).message}). ` +
        `It ships prebuilt binaries for Linux (glibc), macOS and Windows on x64 and arm64 and needs no ` +
        `build step; this process runs on ${process.platform}-${process.arch}. Reinstall @lockstep/file ` +
        `so that ${LOCK_BINDING} is installed beside it, and if your app is bundled keep ${LOCK_BINDING} ` +
        `external: it loads its prebuilds/ folder at run time.`,
      { cause: error },
    );
  }
  return binding;
}

/** How long to keep trying for the file lock before giving up (a stopped process may hold it). */
const CRITICAL_SECTION_PATIENCE_MS = 10_000;

let sectionsEntered = 0;

/** How many critical sections this process has entered: lets tests count work per grant. */
export function criticalSectionCount(): number {
  return sectionsEntered;
}

/**
 * Opens (creating if needed) `path`, takes its lock without blocking a thread (non-blocking
 * attempts with short sleeps), runs `fn(fd)` synchronously, unlocks and closes.
 */
export function withFileLock<T>(path: string, fn: (fd: number) => T): Promise<T> {
  let fd: number;
  try {
    // Read-write, created if missing; not O_APPEND, which would ignore the record's offset 0.
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  } catch (error) {
    return Promise.reject(error);
  }
  return underLock(path, fd, fn);
}

/**
 * Like {@link withFileLock} for a section that only reads: a missing file is not created (a
 * question about a name never used leaves nothing behind), and `fn` is not run: `undefined`.
 */
export function withExistingFileLock<T>(path: string, fn: (fd: number) => T): Promise<T | undefined> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve(undefined);
    return Promise.reject(error);
  }
  return underLock(path, fd, fn);
}

/** Runs `fn(fd)` under the lock of `fd` (open on `path`), then unlocks and closes it. */
async function underLock<T>(path: string, fd: number, fn: (fd: number) => T): Promise<T> {
  try {
    const lock = loadLockBinding();
    const deadline = performance.now() + CRITICAL_SECTION_PATIENCE_MS;
    for (let attempt = 0; !lock.tryLock(fd); attempt++) {
      if (performance.now() > deadline) {
        // Another process holds the section past all reason: it is stopped (SIGSTOP, a debugger)
        // inside it. The kernel frees the flock when it dies; until then nobody can proceed.
        throw new BackendUnavailableError(
          'file',
          `${path}: its critical section was held by another process for ${CRITICAL_SECTION_PATIENCE_MS} ms ` +
            '(a process stopped inside it?)',
        );
      }
      // The section lasts microseconds; back off gently so a stopped holder costs little.
      await sleep(Math.min(1 + attempt, 20));
    }
    sectionsEntered++;
    try {
      return fn(fd);
    } finally {
      lock.unlock(fd);
    }
  } finally {
    closeSync(fd);
  }
}
