/**
 * Each kind of server: starts from a local binary (Consul: the emulator), answers a real request
 * on its URL, survives a restart on the same port (with its data, where the server persists any),
 * and leaves nothing behind when stopped. Then the process faults, on Redis and PostgreSQL.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ServerControlError } from './errors.js';
import { descendantsOf, isProcessAlive, processGroupMembers } from './process-group.js';
import { stopAllServers } from './registry.js';
import { startServerOrSkip } from './require.js';
import {
  consulGet,
  consulPut,
  etcdGet,
  etcdPut,
  leftovers,
  postgresQuery,
  RedisConnection,
  redisCommand,
  within,
  zookeeperCreateAndRead,
} from './test-support/clients.js';
import { printTimings, recordTiming, timed } from './test-support/timings.js';
import type { ServerHandle, ServerKind, ServerSource } from './types.js';

afterAll(async () => {
  await stopAllServers();
  printTimings('start-up times (servers.test.ts)');
});

/** Our own tests need servers we control: never an env URL. */
const LOCAL: readonly ServerSource[] = ['binary', 'emulator'];

async function start(
  kind: ServerKind,
  skip: (note: string) => never,
  sources = LOCAL,
): Promise<ServerHandle> {
  const provided = await startServerOrSkip(kind, { sources });
  if (provided.skipReason !== undefined) skip(provided.skipReason);
  return provided.handle!;
}

interface KindCase {
  kind: ServerKind;
  sources?: readonly ServerSource[];
  url: RegExp;
  /** Writes something through a real client and reads it back. */
  write(url: string): Promise<void>;
  /** Whether what `write` stored is there. */
  read(url: string): Promise<boolean>;
  /** Whether the data survives a restart (the data dir is kept; in-memory servers lose it). */
  persists: boolean;
}

const cases: KindCase[] = [
  {
    kind: 'redis',
    url: /^redis:\/\/127\.0\.0\.1:\d+$/,
    write: async (url) => expect(await redisCommand(url, ['SET', 'probe', 'yes'])).toBe('+OK'),
    read: async (url) => (await redisCommand(url, ['EXISTS', 'probe'])) === ':1',
    persists: false, // no RDB, no AOF: a restart is an empty Redis, as the Redis anomaly tests need
  },
  {
    kind: 'postgres',
    url: /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/,
    write: async (url) => {
      await postgresQuery(url, "CREATE TABLE probe (v text); INSERT INTO probe VALUES ('yes')");
    },
    read: async (url) => (await postgresQuery<{ v: string }>(url, 'SELECT v FROM probe'))[0]?.v === 'yes',
    persists: true,
  },
  {
    kind: 'etcd',
    url: /^etcd:\/\/127\.0\.0\.1:\d+$/,
    write: (url) => etcdPut(url, 'probe', 'yes'),
    read: async (url) => (await etcdGet(url, 'probe')) === 'yes',
    persists: true,
  },
  {
    kind: 'zookeeper',
    url: /^zookeeper:\/\/127\.0\.0\.1:\d+$/,
    write: async (url) => expect(await zookeeperCreateAndRead(url, '/probe', 'yes')).toBe('yes'),
    read: async (url) => {
      try {
        await zookeeperCreateAndRead(url, '/probe', 'again');
        return false; // created anew: the first /probe was gone
      } catch (error) {
        return /NODE_EXISTS/.test(String(error));
      }
    },
    persists: true,
  },
  {
    kind: 'consul',
    // The emulator, explicitly: a real Consul agent is a different thing and must never be confused with it.
    sources: ['emulator'],
    url: /^consul:\/\/127\.0\.0\.1:\d+$/,
    write: async (url) => expect(await consulPut(url, 'probe', 'yes')).toBe(true),
    read: async (url) => (await consulGet(url, 'probe')) === 'yes',
    persists: false, // state in memory, like `consul agent -dev`
  },
];

describe.each(cases)('$kind', (c) => {
  it('starts, answers on its URL, restarts on the same port, and stop() leaves nothing behind', async ({
    skip,
  }) => {
    const handle = await timed(`${c.kind} (single)`, () => start(c.kind, skip, c.sources));
    expect(handle.kind).toBe(c.kind);
    expect(handle.source).toBe(c.kind === 'consul' ? 'emulator' : 'binary');
    expect(handle.url).toMatch(c.url);
    expect(handle.url).toContain(`${handle.host}:${handle.port}`);
    const firstPid = handle.pid!;
    expect(isProcessAlive(firstPid)).toBe(true);
    expect(statSync(handle.dataDir!).isDirectory()).toBe(true);

    await c.write(handle.url);
    expect(await c.read(handle.url)).toBe(true);

    await timed(`${c.kind} restart`, () => handle.restart());
    expect(handle.pid).not.toBe(firstPid);
    expect(isProcessAlive(firstPid)).toBe(false);
    expect(await c.read(handle.url)).toBe(c.persists);
    expect(readFileSync(handle.logPath!, 'utf8').length).toBeGreaterThan(0);

    const pid = handle.pid!;
    const tree = [pid, ...descendantsOf(pid)];
    await handle.stop();
    expect(leftovers(handle, isProcessAlive)).toEqual([]);
    expect(processGroupMembers(pid)).toEqual([]);
    expect(tree.filter(isProcessAlive)).toEqual([]);
    await handle.stop(); // idempotent
    await expect(handle.restart()).rejects.toBeInstanceOf(ServerControlError);
  });
});

describe('process faults through the handle (redis)', () => {
  it('kill() SIGKILLs the server and it stays dead until restart() brings it back on the same port', async ({
    skip,
  }) => {
    await using handle = await start('redis', skip);
    const killedPid = handle.pid!;
    await handle.kill();
    expect(isProcessAlive(killedPid)).toBe(false);
    await expect(redisCommand(handle.url, ['PING'])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // Nothing to pause or resume while it is dead.
    await expect(handle.pause()).rejects.toBeInstanceOf(ServerControlError);
    await handle.restart();
    expect(handle.pid).not.toBe(killedPid);
    expect(await redisCommand(handle.url, ['PING'])).toBe('+PONG');
  });

  it('pause() stops answering without closing connections; resume() delivers the pending reply', async ({
    skip,
  }) => {
    await using handle = await start('redis', skip);
    const connection = await RedisConnection.open(handle.url);
    try {
      expect(await connection.send('PING')).toBe('+PONG');
      await handle.pause();
      const pending = connection.send('PING');
      expect(await within(pending, 500)).toBe('timeout');
      await handle.resume();
      expect(await within(pending, 5_000)).toBe('+PONG');
    } finally {
      connection.close();
    }
  });

  it('stop() of a paused server still ends it and cleans up', async ({ skip }) => {
    const handle = await start('redis', skip);
    await handle.pause();
    await handle.stop();
    expect(leftovers(handle, isProcessAlive)).toEqual([]);
  });

  it('await using stops the server at the end of the block', async ({ skip }) => {
    let pid: number | undefined;
    let dataDir: string | undefined;
    {
      await using handle = await start('redis', skip);
      pid = handle.pid;
      dataDir = handle.dataDir;
    }
    expect(isProcessAlive(pid!)).toBe(false);
    expect(() => statSync(dataDir!)).toThrow();
  });
});

describe('process faults reach the whole process group (postgres)', () => {
  it('pause() freezes the postmaster and its backends; resume() thaws them; kill() + restart() keeps the data', async ({
    skip,
  }) => {
    await using handle = await start('postgres', skip);
    await postgresQuery(handle.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    // The postmaster's children call setsid(): they are in no group of ours, only in its tree.
    const members = [handle.pid!, ...descendantsOf(handle.pid!)];
    expect(members.length).toBeGreaterThan(1); // postmaster + background workers

    await handle.pause();
    // Every live process of the tree is stopped (a backend that exited just before is a zombie, not listed).
    const frozen = [handle.pid!, ...descendantsOf(handle.pid!)];
    expect(frozen.length).toBeGreaterThan(1);
    const states = frozen
      .map((pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0])
      .filter((state) => state !== 'Z');
    expect(new Set(states)).toEqual(new Set(['T']));
    const frozenQuery = postgresQuery(handle.url, 'SELECT 1');
    frozenQuery.catch(() => {}); // settles after resume; only its silence while paused matters
    expect(await within(frozenQuery, 500)).toBe('timeout');
    await handle.resume();
    expect(await postgresQuery(handle.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);

    await handle.kill();
    expect(members.filter(isProcessAlive)).toEqual([]);
    const restartStarted = performance.now();
    await handle.restart(); // crash recovery from the kept data dir
    recordTiming('postgres restart after SIGKILL', performance.now() - restartStarted);
    expect(await postgresQuery(handle.url, 'SELECT v FROM kept')).toEqual([{ v: 42 }]);
  });
});
