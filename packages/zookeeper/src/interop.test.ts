/**
 * Issue 10, ZooKeeper part — `interop.curator`: `lock(name, { native: PATH })` queues exactly
 * where Apache Curator's `InterProcessMutex(client, PATH)` does (children `_c_<uuid>-lock-<seq>`,
 * ordered by the sequence, each waiter watching its predecessor), so a Java service using the
 * real Curator (Debian's libcurator-recipes-java 5.4) and lockstep clients exclude each other
 * both ways, and the fencing tokens (czxid) increase across both.
 */
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Coordinator, connect } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import './index.js';
import { CuratorProcess, compileHolder, curatorUnavailable } from './test-support/curator.js';
import { look, rawClient, serversOf } from './test-support/raw.js';

const zk = useServer('zookeeper');
const unavailable = curatorUnavailable();

describe('interop.curator: lockstep and Curator InterProcessMutex on one path', () => {
  let dir = '';
  let classpath = '';
  const running: CuratorProcess[] = [];
  const opened: Coordinator[] = [];

  beforeAll(async () => {
    if (unavailable) return;
    dir = mkdtempSync(join(tmpdir(), 'lockstep-curator-'));
    classpath = await compileHolder(dir);
  }, 180_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach((context) => {
    if (unavailable) context.skip(unavailable);
  });
  afterEach(async () => {
    await Promise.allSettled(running.splice(0).map((p) => p.stop()));
    await Promise.allSettled(opened.splice(0).map((c) => c.close()));
  });

  const lockPath = () => `/interop/${Math.random().toString(36).slice(2, 10)}`;
  const files = () => {
    const id = Math.random().toString(36).slice(2, 10);
    return { marker: join(dir, `inside-${id}`), tokens: join(dir, `tokens-${id}`) };
  };
  async function curator(path: string, shared = files()): Promise<CuratorProcess> {
    const process = new CuratorProcess(classpath, serversOf(zk.url), path, shared.marker, shared.tokens);
    running.push(process);
    expect(await process.next(60_000)).toBe('ready');
    return process;
  }
  async function lockstep(): Promise<Coordinator> {
    const c = await connect(zk.url);
    opened.push(c);
    return c;
  }

  it('Curator holds: lockstep cannot get in, queues behind it with the same naming, and gets a larger token', async () => {
    const path = lockPath();
    const java = await curator(path);
    const held = await java.ask('acquire');
    expect(held).toMatch(/^acquired \d+$/);
    const curatorToken = BigInt(held.split(' ')[1]!);
    const node = await lockstep();
    const lock = node.lock('reports', { native: path });
    expect(await lock.tryAcquire()).toBeNull();
    const waiting = lock.acquire({ waitMs: 30_000 });
    const client = await rawClient(zk.url);
    try {
      const tree = look(client);
      let children: string[] = [];
      for (let i = 0; i < 200 && children.length < 2; i++) {
        children = await tree.children(path);
        if (children.length < 2) await new Promise((r) => setTimeout(r, 25));
      }
      // Both contenders' nodes look alike: Curator's protected names, ordered by sequence.
      expect(children).toHaveLength(2);
      for (const child of children) expect(child).toMatch(/^_c_[0-9a-f-]{36}-lock-\d{10}$/);
    } finally {
      client.close();
    }
    expect(await java.ask('release')).toBe('released');
    const mine = await waiting;
    expect(mine.fencingToken).toBeGreaterThan(curatorToken);
    // Now Curator is the one kept out.
    expect(await java.ask('try')).toBe('busy');
    await mine.release();
    expect(await java.ask('try')).toMatch(/^acquired \d+$/);
    expect(await java.ask('release')).toBe('released');
  });

  it('lockstep holds: Curator cannot get in, waits its turn, and gets a larger czxid', async () => {
    const path = lockPath();
    const node = await lockstep();
    const mine = await node.lock('reports', { native: path }).acquire();
    const java = await curator(path);
    expect(await java.ask('try')).toBe('busy');
    java.send('acquire');
    const answer = java.next(30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await mine.isHeld()).toBe(true);
    await mine.release();
    const line = await answer;
    expect(line).toMatch(/^acquired \d+$/);
    expect(BigInt(line.split(' ')[1]!)).toBeGreaterThan(mine.fencingToken);
    expect(await node.lock('reports', { native: path }).tryAcquire()).toBeNull();
    expect(await java.ask('release')).toBe('released');
  });

  it('contention: Curator and two lockstep clients are never inside together, and tokens only increase', async () => {
    const path = lockPath();
    const shared = files();
    const java = await curator(path, shared);
    const clients = [await lockstep(), await lockstep()];
    const ROUNDS = 25;
    const violations: string[] = [];
    const ours = new Set<bigint>();
    let fromCurator = 0;
    const enter = (token: bigint) => {
      try {
        closeSync(openSync(shared.marker, 'wx'));
      } catch {
        violations.push(`lockstep entered (token ${token}) while the marker existed`);
      }
      if (existsSync(shared.tokens)) {
        const last = BigInt(readFileSync(shared.tokens, 'utf8').trim());
        if (token <= last) violations.push(`lockstep token ${token} after ${last}`);
        if (!ours.has(last)) fromCurator++;
      }
      ours.add(token);
      writeFileSync(shared.tokens, token.toString());
    };
    const loop = async (client: Coordinator) => {
      const lock = client.lock('reports', { native: path });
      for (let i = 0; i < ROUNDS; i++) {
        const held = await lock.acquire({ waitMs: 60_000 });
        enter(held.fencingToken);
        await new Promise((r) => setTimeout(r, 3));
        unlinkSync(shared.marker);
        await held.release();
      }
    };
    java.send(`loop ${ROUNDS} 3`);
    const javaDone = java.next(120_000);
    await Promise.all(clients.map(loop));
    const [, curatorViolations, fromLockstep] = (await javaDone).split(' ');
    expect(curatorViolations).toBe('0');
    expect(violations).toEqual([]);
    // The lock really changed hands between the two implementations, both ways.
    expect(fromCurator).toBeGreaterThan(0);
    expect(Number(fromLockstep)).toBeGreaterThan(0);
    console.log(
      `interop.curator: ${fromCurator} handoffs Curator → lockstep, ${fromLockstep} lockstep → Curator`,
    );
    expect(java.stderr).not.toMatch(/violation/);
  });
});
