/**
 * Leader loss in a 3-node ensemble while clients contend for one lock: exclusivity and
 * token order hold throughout, and the lock keeps being granted once a new leader is elected.
 */
import { BackendUnavailableError, type Coordinator, connect, type LockHandle } from '@lockstep/core';
import { probeZooKeeper } from '@lockstep/testing';
import { useCluster } from '@lockstep/testing/vitest';
import { afterEach, expect, it } from 'vitest';
import './index.js';

const ensemble = useCluster('zookeeper', 3);
/** Long enough that most sessions ride out the election; those that do not are lost, never shared. */
const SESSION_MS = 4_000;
const CLIENTS = 4;

const opened: Coordinator[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((c) => c.close()));
});

it('leader loss during contention: never two holders, tokens keep increasing, grants resume', async () => {
  const clients: Coordinator[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = await connect(`${ensemble.url}?sessionTimeoutMs=${SESSION_MS}`);
    opened.push(c);
    clients.push(c);
  }
  const name = `leader-loss-${Math.random().toString(36).slice(2, 8)}`;
  const inside = new Set<LockHandle>();
  const violations: string[] = [];
  const grants: { at: number; token: bigint }[] = [];
  let unavailable = 0;
  let lost = 0;
  let stop = false;

  const contend = async (client: Coordinator) => {
    while (!stop) {
      let held: LockHandle;
      try {
        held = await client.lock(name).acquire({ waitMs: 20_000 });
      } catch (error) {
        if (!(error instanceof BackendUnavailableError)) throw error;
        unavailable++;
        continue;
      }
      // Whoever is still "inside" must already know it lost the lock.
      for (const other of inside) {
        if (!other.signal.aborted)
          violations.push(`token ${held.fencingToken} granted while ${other.fencingToken} held`);
      }
      const last = grants.at(-1);
      if (last && held.fencingToken <= last.token) {
        violations.push(`token ${held.fencingToken} granted after ${last.token}`);
      }
      grants.push({ at: performance.now(), token: held.fencingToken });
      inside.add(held);
      await new Promise((r) => setTimeout(r, 2));
      inside.delete(held);
      if (held.signal.aborted) lost++;
      await held.release().catch(() => {});
    }
  };

  const running = clients.map(contend);
  const grantsAfter = async (count: number, withinMs: number) => {
    const target = grants.length + count;
    const deadline = performance.now() + withinMs;
    while (grants.length < target) {
      if (performance.now() > deadline) throw new Error(`fewer than ${count} grants within ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await grantsAfter(20, 20_000);
    const modes = await Promise.all(ensemble.handle.nodes.map((n) => probeZooKeeper(n.host, n.port)));
    const leader = ensemble.handle.nodes[modes.indexOf('leader')]!;
    const killedAt = performance.now();
    await leader.kill();
    await grantsAfter(20, 60_000);
    const after = grants.filter((g) => g.at > killedAt);
    const gaps = after.map((g, i) => g.at - (i === 0 ? killedAt : after[i - 1]!.at));
    const modesAfter = await Promise.all(
      ensemble.handle.nodes.filter((n) => n !== leader).map((n) => probeZooKeeper(n.host, n.port)),
    );
    expect([...modesAfter].sort()).toEqual(['follower', 'leader']);
    console.log(
      `leader killed: longest pause between grants ${Math.round(Math.max(...gaps))} ms; ${grants.length} grants, ` +
        `${lost} holders lost their lock, ${unavailable} acquires failed while the ensemble had no leader`,
    );
  } finally {
    stop = true;
    await Promise.all(running);
  }
  expect(violations).toEqual([]);
});
