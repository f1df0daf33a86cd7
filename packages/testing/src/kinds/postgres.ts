/**
 * PostgreSQL: `initdb` then `postgres` in a fresh temp dir, superuser `postgres`, trust auth on
 * loopback TCP only (no Unix socket). PostgreSQL refuses to run as root, so as root both run as
 * the `postgres` user (setpriv, else runuser) in a temp dir that user owns.
 *
 * Tuned for tests, not for keeping data: fsync, synchronous_commit and full_page_writes off;
 * max_connections 300 for suites that open many clients. Graceful stop is SIGINT ("fast
 * shutdown": SIGTERM would wait for every client to disconnect).
 * @module
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '@lockstep/core';
import { which } from '../binaries.js';
import { freePort } from '../ports.js';
import { probePostgres } from '../probes.js';
import type { DirOwner } from '../temp-dir.js';
import { LOOPBACK, layoutNodes, makeNodeDirs, type Recipe } from './layout.js';

const run = promisify(execFile);

/** The database superuser the URL names. */
export const POSTGRES_USER = 'postgres';

interface RunAs {
  readonly owner?: DirOwner;
  /** Prefix that runs a command as the owner, e.g. `setpriv --reuid=… --regid=… --init-groups`. */
  readonly prefix: readonly string[];
}

/** As root: the `postgres` system user and a way to become it. Otherwise: ourselves, no prefix. */
export function postgresRunAs(): RunAs {
  if (process.getuid?.() !== 0) return { prefix: [] };
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error('running as root and there is no `postgres` user to run PostgreSQL as (it refuses root)');
  }
  const setpriv = which('setpriv');
  if (setpriv !== undefined) {
    // setpriv execs in place, so the pid we hold is the postmaster's own.
    return { owner: { uid, gid }, prefix: [setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--init-groups'] };
  }
  const runuser = which('runuser');
  if (runuser !== undefined) return { owner: { uid, gid }, prefix: [runuser, '-u', 'postgres', '--'] };
  throw new Error(
    'running as root and neither setpriv nor runuser is available to drop to the `postgres` user',
  );
}

export const layoutPostgres: Recipe = async ({ nodes: count, programs, readyTimeoutMs }) => {
  if (count !== 1) {
    throw new InvalidArgumentError(
      'n',
      `PostgreSQL clusters are not provided (got ${count}); start single servers`,
    );
  }
  const runAs = postgresRunAs();
  const nodes = await layoutNodes(1, async () => {
    const port = await freePort();
    const dirs = makeNodeDirs('postgres', runAs.owner);
    const [initCommand, ...initPrefix] = [...runAs.prefix, programs.initdb!];
    const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
    try {
      await run(
        initCommand!,
        [
          ...initPrefix,
          '-D',
          dirs.dataDir,
          '-U',
          POSTGRES_USER,
          '--auth=trust',
          '--no-sync',
          '-E',
          'UTF8',
          '--locale=C',
        ],
        { cwd: dirs.tempDir, env },
      );
    } catch (error) {
      const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
      throw new Error(`initdb failed in ${dirs.dataDir}: ${detail}`);
    }
    const url = `postgres://${POSTGRES_USER}@${LOOPBACK}:${port}/postgres`;
    const [command, ...prefixArgs] = [...runAs.prefix, programs.postgres!];
    return {
      ...dirs,
      kind: 'postgres' as const,
      source: 'binary' as const,
      host: LOOPBACK,
      port,
      url,
      command: command!,
      // biome-ignore format: one setting per line reads like a config file
      args: [
        ...prefixArgs,
        '-D', dirs.dataDir,
        '-p', String(port),
        '-c', `listen_addresses=${LOOPBACK}`,
        '-c', 'unix_socket_directories=',
        '-c', 'max_connections=300',
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'logging_collector=off',
      ],
      env,
      stopSignal: 'SIGINT' as const,
      probe: () => probePostgres(url),
      readyTimeoutMs: readyTimeoutMs ?? 30_000,
    };
  });
  return { url: nodes[0]!.url, nodes };
};
