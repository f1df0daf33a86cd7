/**
 * Finding the local programs each kind needs, and saying exactly what is missing when they are
 * not there (the message ends up in a skip reason or a CI failure).
 * @module
 */
import { accessSync, constants, existsSync, readdirSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { ServerKind } from './types.js';

/** What {@link locateBinaries} found: the programs to run, or why the kind cannot run locally. */
export type BinaryLookup =
  | { readonly found: true; readonly programs: Readonly<Record<string, string>>; readonly detail: string }
  | { readonly found: false; readonly reason: string };

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable called `name` on PATH. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function numericDesc(a: string, b: string): number {
  return Number(b) - Number(a) || b.localeCompare(a);
}

/** PostgreSQL's `initdb` and `postgres`: Debian's /usr/lib/postgresql/<newest>/bin first, then PATH. */
export function locatePostgres(env: NodeJS.ProcessEnv = process.env): BinaryLookup {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort(numericDesc);
  } catch {}
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (isExecutable(join(bin, 'initdb')) && isExecutable(join(bin, 'postgres'))) {
      return {
        found: true,
        programs: { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') },
        detail: bin,
      };
    }
  }
  const initdb = which('initdb', env.PATH ?? '');
  if (initdb !== undefined) {
    // initdb on PATH is often a symlink into the real bin dir, where postgres lives too.
    const besideInitdb = join(dirname(realpathSync(initdb)), 'postgres');
    const postgres = isExecutable(besideInitdb) ? besideInitdb : which('postgres', env.PATH ?? '');
    if (postgres !== undefined)
      return { found: true, programs: { initdb, postgres }, detail: dirname(initdb) };
  }
  return {
    found: false,
    reason: 'no PostgreSQL binaries: neither /usr/lib/postgresql/*/bin nor PATH has initdb and postgres',
  };
}

/**
 * ZooKeeper is Java: a `java` and a class path holding `org.apache.zookeeper.server.quorum.QuorumPeerMain`.
 * Looks in `$ZOOKEEPER_HOME` (a release tarball: `lib/*.jar`), then Debian's /usr/share/java/zookeeper.jar
 * (whose manifest lists its dependencies). Adds slf4j-simple when present so the log says something.
 */
export function locateZooKeeper(env: NodeJS.ProcessEnv = process.env): BinaryLookup {
  const java =
    env.JAVA_HOME && isExecutable(join(env.JAVA_HOME, 'bin', 'java'))
      ? join(env.JAVA_HOME, 'bin', 'java')
      : which('java', env.PATH ?? '');
  if (java === undefined) return { found: false, reason: 'no java on PATH (ZooKeeper runs on the JVM)' };
  const classpath: string[] = [];
  const home = env.ZOOKEEPER_HOME;
  if (home && existsSync(join(home, 'lib'))) {
    for (const dir of [home, join(home, 'lib')]) {
      for (const file of readdirSync(dir)) if (file.endsWith('.jar')) classpath.push(join(dir, file));
    }
  }
  if (classpath.length === 0 && existsSync('/usr/share/java/zookeeper.jar')) {
    classpath.push('/usr/share/java/zookeeper.jar');
    if (existsSync('/usr/share/java/slf4j-simple.jar')) classpath.push('/usr/share/java/slf4j-simple.jar');
  }
  if (classpath.length === 0) {
    return {
      found: false,
      reason: 'no ZooKeeper jars: /usr/share/java/zookeeper.jar is missing and ZOOKEEPER_HOME is not set',
    };
  }
  return { found: true, programs: { java, classpath: classpath.join(':') }, detail: classpath[0]! };
}

function single(kind: string, program: string, env: NodeJS.ProcessEnv): BinaryLookup {
  const path = which(program, env.PATH ?? '');
  return path === undefined
    ? { found: false, reason: `no ${program} on PATH (${kind})` }
    : { found: true, programs: { [program]: path }, detail: path };
}

/** The programs a kind needs to run from local binaries, or why they are not here. */
export function locateBinaries(kind: ServerKind, env: NodeJS.ProcessEnv = process.env): BinaryLookup {
  switch (kind) {
    case 'redis':
      return single(kind, 'redis-server', env);
    case 'etcd':
      return single(kind, 'etcd', env);
    case 'consul':
      return single(kind, 'consul', env);
    case 'postgres':
      return locatePostgres(env);
    case 'zookeeper':
      return locateZooKeeper(env);
  }
}
