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
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withQueryParam } from '@lockstep/conformance';
import {
  adapterEntry,
  type BackendProfile,
  type BenchScope,
  type BenchSubject,
} from '@lockstep/conformance/profile';
import { connect } from '@lockstep/core';
import { encodeName } from '@lockstep/core/driver';

/** Lease for the suite's lease tests (file:// accepts 50 ms and up). */
export const FILE_TEST_TTL_MS = 600;

/** The directory of a `file:///dir?…` URL. */
function directoryOf(url: string): string {
  return fileURLToPath(url.replace(/[?#].*$/, ''));
}

/** A scratch directory for one floor subject under `<dir>/<prefix>/`, removed by its teardown. */
function scratch({ url, prefix }: BenchScope): string {
  const base = join(url.startsWith('file:') ? directoryOf(url) : tmpdir(), ...prefix.split('/'));
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, 'floor-'));
}

/** Removes `dir` when it is empty (another run may still use it); absent is fine. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (error) {
    if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(errno(error) ?? '')) throw error;
  }
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

/** The file:// profile. */
export const fileProfile: BackendProfile = {
  name: 'file',
  adapterModule: '@lockstep/file',
  async provision({ url, prefix, log }) {
    const adapterModule = adapterEntry('@lockstep/file', import.meta.resolve);
    await import(adapterModule);
    const dir = url === undefined ? mkdtempSync(join(tmpdir(), 'lockstep-compare-')) : undefined;
    const target = withQueryParam(url ?? pathToFileURL(dir!).href, 'prefix', prefix);
    log(`file: ${dir === undefined ? 'directory from --url' : 'temporary directory'} ${target}`);
    return {
      target: {
        name: 'file',
        source: 'embedded',
        url: target,
        adapterModule,
        ttlMs: FILE_TEST_TTL_MS,
        connect: (override) => connect(override ?? target),
      },
      stop: async () => {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  async cleanup(url, prefix) {
    // lockstep's files live under the prefix's segment; the floors' under the prefix's path.
    const root = directoryOf(url);
    rmSync(join(root, encodeName(prefix)), { recursive: true, force: true });
    const parts = prefix.split('/');
    rmSync(join(root, ...parts), { recursive: true, force: true });
    for (let i = parts.length - 1; i > 0; i--) removeIfEmpty(join(root, ...parts.slice(0, i)));
  },
  floor: {
    async lockCycle(scope): Promise<BenchSubject> {
      const dir = scratch(scope);
      const path = join(dir, 'lock');
      return {
        op: async () => {
          closeSync(openSync(path, 'wx'));
          unlinkSync(path);
        },
        teardown: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
    async counterIncrement(scope): Promise<BenchSubject> {
      const dir = scratch(scope);
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
    async counterThroughput64(scope): Promise<BenchSubject> {
      const dir = scratch(scope);
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
