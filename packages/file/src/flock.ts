/**
 * Short critical sections under a kernel `flock(2)` lock. Every check-and-change of a lock
 * or counter file happens inside one, so two processes can never both judge a lease stale
 * and both take it (the race of mkdir/mtime schemes). The kernel drops the flock when its
 * holder dies, so a crash inside a critical section cannot wedge anyone.
 * @module
 */
import { closeSync, constants, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sleep } from '@lockstep/core';

interface FsExt {
  flockSync(fd: number, flags: 'ex' | 'exnb' | 'un'): void;
}

const fsExt = createRequire(import.meta.url)('fs-ext') as FsExt;

/** How long to keep trying for the flock before giving up (a stopped process may hold it). */
const CRITICAL_SECTION_PATIENCE_MS = 10_000;

/**
 * Opens (creating if needed) `path`, takes its flock without blocking a thread (non-blocking
 * attempts with short sleeps), runs `fn(fd)` synchronously, unlocks and closes.
 */
export async function withFileLock<T>(path: string, fn: (fd: number) => T): Promise<T> {
  // Read-write, created if missing; not O_APPEND, which would ignore the record's offset 0.
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const deadline = performance.now() + CRITICAL_SECTION_PATIENCE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        fsExt.flockSync(fd, 'exnb');
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw error;
        if (performance.now() > deadline) {
          throw new Error(`${path}: critical section busy for ${CRITICAL_SECTION_PATIENCE_MS} ms`);
        }
        // The section lasts microseconds; back off gently so a stopped holder costs little.
        await sleep(Math.min(1 + attempt, 20));
      }
    }
    try {
      return fn(fd);
    } finally {
      fsExt.flockSync(fd, 'un');
    }
  } finally {
    closeSync(fd);
  }
}
