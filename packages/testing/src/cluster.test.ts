/**
 * 3-node clusters: each starts, answers on its multi-host URL, and keeps serving when one node
 * is killed (for etcd and ZooKeeper: the leader, the hardest node to lose); the killed node
 * restarts on its port and rejoins.
 */

import { InvalidArgumentError } from '@lockstep/core';
import { afterAll, describe, expect, it } from 'vitest';
import { probeZooKeeper } from './probes.js';
import { isProcessAlive } from './process-group.js';
import { stopAllServers } from './registry.js';
import { startClusterOrSkip } from './require.js';
import { startCluster } from './start.js';
import {
  etcdGet,
  etcdPut,
  etcdStatus,
  redisCommand,
  zookeeperCreateAndRead,
} from './test-support/clients.js';
import { printTimings, timed } from './test-support/timings.js';
import { retryUntil, waitUntil } from './test-support/wait-until.js';
import type { ClusterHandle, ServerHandle, ServerKind } from './types.js';

afterAll(async () => {
  await stopAllServers();
  printTimings('start-up times (cluster.test.ts)');
});

async function cluster(kind: ServerKind, skip: (note: string) => never): Promise<ClusterHandle> {
  const provided = await timed(`${kind} cluster of 3`, () =>
    startClusterOrSkip(kind, 3, { sources: ['binary'] }),
  );
  if (provided.skipReason !== undefined) skip(provided.skipReason);
  return provided.handle!;
}

function expectDistinctNodes(c: ClusterHandle): void {
  expect(c.nodes).toHaveLength(3);
  expect(new Set(c.nodes.map((n) => n.port)).size).toBe(3);
  expect(new Set(c.nodes.map((n) => n.pid)).size).toBe(3);
  expect(new Set(c.nodes.map((n) => n.dataDir)).size).toBe(3);
}

describe('redis: 3 independent instances (Redlock)', () => {
  it('all answer; with one killed the other two still do; the killed one restarts on its port', async ({
    skip,
  }) => {
    await using c = await cluster('redis', skip);
    expect(c.url).toMatch(/^redlock:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
    expectDistinctNodes(c);
    for (const node of c.nodes) expect(node.url).toMatch(/^redis:\/\//);
    // Independent: a key set on one is not on the others.
    expect(await redisCommand(c.nodes[0]!.url, ['SET', 'only-here', '1'])).toBe('+OK');
    expect(await redisCommand(c.nodes[1]!.url, ['EXISTS', 'only-here'])).toBe(':0');

    const [victim, ...survivors] = c.nodes as [ServerHandle, ...ServerHandle[]];
    await victim.kill();
    await expect(redisCommand(victim.url, ['PING'])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    for (const node of survivors) expect(await redisCommand(node.url, ['PING'])).toBe('+PONG');

    await victim.restart();
    expect(await redisCommand(victim.url, ['PING'])).toBe('+PONG');
  });
});

describe('etcd: a real 3-node cluster', () => {
  it('a put still succeeds with the leader killed; the old leader restarts and catches up', async ({
    skip,
  }) => {
    await using c = await cluster('etcd', skip);
    expect(c.url).toMatch(/^etcd:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
    expectDistinctNodes(c);
    await etcdPut(c.url, 'before', '1');

    const statuses = await Promise.all(c.nodes.map((n) => etcdStatus(n.host, n.port)));
    const leaderIndex = statuses.findIndex((s) => s.memberId === s.leader);
    expect(leaderIndex).toBeGreaterThanOrEqual(0);
    const leader = c.nodes[leaderIndex]!;
    const others = c.nodes.filter((n) => n !== leader);

    await leader.kill();
    expect(isProcessAlive(leader.pid!)).toBe(false);
    // Two of three still make a quorum: once they elect a new leader, writes go through.
    const othersUrl = `etcd://${others.map((n) => `${n.host}:${n.port}`).join(',')}`;
    await timed('etcd: put after leader kill', () =>
      retryUntil(
        'a put succeeds on the surviving nodes',
        () => etcdPut(othersUrl, 'after', '2', 500),
        20_000,
      ),
    );

    await timed('etcd: restart of the killed node', () => leader.restart());
    await waitUntil(
      'the restarted node has the write it missed',
      async () => (await etcdGet(leader.url, 'after')) === '2',
    );
    expect(await etcdGet(leader.url, 'before')).toBe('1');
  });
});

describe('zookeeper: a real 3-node ensemble', () => {
  it('a create still succeeds with the leader killed; the old leader restarts as a follower', async ({
    skip,
  }) => {
    await using c = await cluster('zookeeper', skip);
    expect(c.url).toMatch(/^zookeeper:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
    expectDistinctNodes(c);
    expect(await zookeeperCreateAndRead(c.url, '/before', 'one')).toBe('one');

    const modes = await Promise.all(c.nodes.map((n) => probeZooKeeper(n.host, n.port)));
    expect([...modes].sort()).toEqual(['follower', 'follower', 'leader']);
    const leader = c.nodes[modes.indexOf('leader')]!;

    await leader.kill();
    expect(isProcessAlive(leader.pid!)).toBe(false);
    expect(
      await timed('zookeeper: create after leader kill', () =>
        retryUntil(
          'a create succeeds on the surviving nodes',
          () => zookeeperCreateAndRead(c.url, '/after', 'two'),
          30_000,
        ),
      ),
    ).toBe('two');

    await timed('zookeeper: restart of the killed node', () => leader.restart());
    expect(await probeZooKeeper(leader.host, leader.port)).toBe('follower');
  });

  it('a paused node comes back when resumed, while the others keep serving', async ({ skip }) => {
    await using c = await cluster('zookeeper', skip);
    const follower =
      c.nodes[(await Promise.all(c.nodes.map((n) => probeZooKeeper(n.host, n.port)))).indexOf('follower')]!;
    await follower.pause();
    await expect(probeZooKeeper(follower.host, follower.port, 300)).rejects.toThrow(/no reply/);
    // A client would sit on the paused node until its session timeout; ask the two that run.
    const othersUrl = `zookeeper://${c.nodes
      .filter((n) => n !== follower)
      .map((n) => `${n.host}:${n.port}`)
      .join(',')}`;
    expect(await zookeeperCreateAndRead(othersUrl, '/while-paused', 'x')).toBe('x');
    await follower.resume();
    await waitUntil(
      'the resumed follower serves again',
      async () => {
        const mode = await probeZooKeeper(follower.host, follower.port);
        return mode === 'follower' || mode === 'leader';
      },
      30_000,
    );
  });
});

describe('cluster arguments', () => {
  it('refuses sizes and kinds that are not provided, before starting anything', async () => {
    await expect(startCluster('etcd', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(startCluster('etcd', 2.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(startCluster('postgres', 3)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(startCluster('consul', 3)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(startCluster('mysql' as ServerKind, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('stop() of a cluster ends every node and removes every data dir', async ({ skip }) => {
    const c = await cluster('etcd', skip);
    const pids = c.nodes.map((n) => n.pid!);
    const started = performance.now();
    await c.stop();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(pids.filter(isProcessAlive)).toEqual([]);
    await c.stop(); // idempotent
  });
});
