/**
 * file:// for `pnpm compare`: a fresh temporary directory per run, removed afterwards.
 *
 * Floors use plain `node:fs` on the same directory, without @lockstep/file:
 * - `floor.lock.cycle`: the classic lock file — create with `O_EXCL` (`'wx'`), close,
 *   unlink. No lease, no owner record, no fencing token: the least a lock file can be.
 * - `floor.counter.increment`: one `O_APPEND` write of one byte to an open file (the
 *   kernel makes appends atomic; the count is the file size). No value is read back.
 * - `naive.counter.throughput64`: per call, take an `O_EXCL` lock file (retrying while it
 *   exists), read the value, write value + 1, unlink — one read-modify-write per call,
 *   without coalescing.
 * @module
 */
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '@lockstep/core';
import type { BackendProfile, BenchSubject } from './profile.js';

/** Lease for the suite's lease tests (file:// accepts 50 ms and up). */
const FILE_TTL_MS = 600;

/** A scratch directory for one floor subject, removed by its teardown. */
function scratch(url: string): string {
  const base = url.startsWith('file:') ? fileURLToPath(url) : tmpdir();
  return mkdtempSync(join(base, 'floor-'));
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** Takes the lock file at `path`, yielding to the event loop while another caller holds it. */
async function takeLockFile(path: string): Promise<void> {
  for (;;) {
    try {
      closeSync(openSync(path, 'wx'));
      return;
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error;
      await yieldTurn();
    }
  }
}

export const profile: BackendProfile = {
  name: 'file',
  adapterModule: '@lockstep/file',
  async provision({ url, log }) {
    await import('@lockstep/file');
    const dir = url === undefined ? mkdtempSync(join(tmpdir(), 'lockstep-compare-')) : undefined;
    const target = url ?? pathToFileURL(dir!).href;
    log(`file: ${dir === undefined ? 'directory from --url' : 'temporary directory'} ${target}`);
    return {
      target: {
        name: 'file',
        source: 'embedded',
        url: target,
        adapterModule: '@lockstep/file',
        ttlMs: FILE_TTL_MS,
        connect: (override) => connect(override ?? target),
      },
      stop: async () => {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  floor: {
    async lockCycle(url): Promise<BenchSubject> {
      const dir = scratch(url);
      const path = join(dir, 'lock');
      return {
        op: async () => {
          closeSync(openSync(path, 'wx'));
          unlinkSync(path);
        },
        teardown: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
    async counterIncrement(url): Promise<BenchSubject> {
      const dir = scratch(url);
      const fd = openSync(join(dir, 'counter'), 'a');
      const one = Buffer.from('+');
      return {
        op: async () => {
          writeSync(fd, one);
        },
        teardown: async () => {
          closeSync(fd);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  naive: {
    async counterThroughput64(url): Promise<BenchSubject> {
      const dir = scratch(url);
      const value = join(dir, 'counter');
      const lock = join(dir, 'counter.lock');
      writeFileSync(value, '0');
      return {
        op: async () => {
          await takeLockFile(lock);
          try {
            writeFileSync(value, String(Number(readFileSync(value, 'utf8')) + 1));
          } finally {
            unlinkSync(lock);
          }
        },
        teardown: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  peers: {},
};

export default profile;
