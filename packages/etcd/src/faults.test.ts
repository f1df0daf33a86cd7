/**
 * etcd under faults, against real servers: the leader of a 3-member cluster killed while
 * clients contend, and a holder process paused past its lease (the case Jepsen's etcd 3.4.3
 * analysis calls unsafe for locks without fencing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkMutex, type HoldInterval } from '@lockstep/conformance';
import { BackendUnavailableError, type Coordinator, connect, LockTimeoutError } from '@lockstep/core';
import { useCluster, useServer } from '@lockstep/testing/vitest';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { lockOwnership } from './index.js';

const open: Coordinator[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

function rawClient(url: string): Etcd3 {
  return new Etcd3({
    hosts: decodeURIComponent(url.replace('etcd://', ''))
      .split(',')
      .map((h) => `http://${h}`),
  });
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('etcd cluster: the leader killed during contention', () => {
  const cluster = useCluster('etcd', 3);

  it('never grants two holders, and grants resume after the election', async () => {
    const contenders = 4;
    for (let i = 0; i < contenders; i++) {
      open.push(await connect(cluster.url, { prefix: 'leader-kill', requestTimeoutMs: 2_000 }));
    }
    const holds: HoldInterval[] = [];
    let failures = 0;
    let losses = 0;
    let stop = false;
    const loop = async (coordinator: Coordinator, client: string) => {
      const lock = coordinator.lock('contended', { ttlMs: 5_000 });
      while (!stop) {
        try {
          const held = await lock.acquire({ waitMs: 20_000 });
          const acquiredAt = performance.now();
          let lostAt: number | undefined;
          held.signal.addEventListener('abort', () => {
            lostAt = performance.now();
          });
          await sleep(3);
          const releasedAt = lostAt ?? performance.now();
          if (lostAt !== undefined) losses++;
          holds.push({ client, acquiredAt, releasedAt, fencingToken: held.fencingToken });
          await held.release().catch(() => {});
        } catch (error) {
          if (!(error instanceof BackendUnavailableError) && !(error instanceof LockTimeoutError))
            throw error;
          failures++;
          await sleep(50);
        }
      }
    };
    const running = open.map((c, i) => loop(c, `client-${i}`));

    await until('grants before the kill', () => holds.length >= 30, 30_000);
    const leader = await findLeader(cluster.handle.nodes.map((n) => n.url));
    const beforeKill = holds.length;
    await cluster.handle.nodes[leader]!.kill();
    const killedAt = performance.now();
    await until('grants after the kill', () => holds.length >= beforeKill + 30, 45_000);
    const resumedAfterMs = performance.now() - killedAt;
    stop = true;
    await Promise.all(running);

    const verdict = checkMutex(holds);
    expect(
      verdict.overlapCount,
      JSON.stringify(verdict.overlaps.slice(0, 3), (_, v) => (typeof v === 'bigint' ? `${v}` : v)),
    ).toBe(0);
    expect(verdict.tokenViolations).toEqual([]);
    expect(verdict.maxConcurrent).toBe(1);
    expect(losses).toBe(0);
    expect(holds.length).toBeGreaterThanOrEqual(beforeKill + 30);
    // Failures during the election are allowed (typed, and retried), not required.
    console.info(
      `leader kill: ${holds.length} grants, ${failures} typed failures, 30 grants within ${Math.round(resumedAfterMs)} ms of the kill`,
    );
  }, 120_000);
});

/** Index of the member that is the raft leader. */
async function findLeader(urls: readonly string[]): Promise<number> {
  for (const [i, url] of urls.entries()) {
    const client = rawClient(url);
    try {
      const status = await client.maintenance.status();
      if (status.leader === status.header.member_id) return i;
    } finally {
      client.close();
    }
  }
  throw new Error('no member reports itself as the leader');
}

describe('etcd: a holder paused past its lease', () => {
  const etcd = useServer('etcd');

  it('the next holder gets a larger token; the paused holder loses its signal on resume and its fenced writes fail', async () => {
    const ttlMs = 3_000;
    const child = startHolder(etcd.url, 'paused', ttlMs);
    try {
      const acquired = await child.next('acquired', 30_000);
      await child.next('write', 10_000);
      child.process.kill('SIGSTOP');
      const stoppedAt = Date.now();

      const other = await connect(etcd.url, { prefix: 'pause-test' });
      open.push(other);
      const next = await other.lock('paused', { ttlMs }).acquire({ waitMs: ttlMs * 3 });
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(ttlMs - 500);
      expect(next.fencingToken).toBeGreaterThan(BigInt(acquired.token as string));
      const raw = rawClient(etcd.url);
      try {
        const mine = lockOwnership(other, next);
        const res = await raw.kv.txn({
          compare: [mine.compare],
          success: [
            { request_put: { key: Buffer.from('pause-test/fenced-data'), value: Buffer.from('new holder') } },
          ],
          failure: [],
        });
        expect(res.succeeded).toBe(true);

        const resumedAt = Date.now();
        child.process.kill('SIGCONT');
        const lost = await child.next('lost', 10_000);
        expect((lost.at as number) - resumedAt).toBeLessThan(5_000);
        const lateWrites = child.events.filter((e) => e.event === 'write' && (e.at as number) >= resumedAt);
        expect(lateWrites.every((e) => e.succeeded !== true)).toBe(true);
        expect(await raw.get('pause-test/fenced-data').string()).toBe('new holder');
      } finally {
        raw.close();
      }
      await next.release();
    } finally {
      await child.dispose();
    }
  }, 90_000);
});

interface Holder {
  readonly process: ChildProcess;
  readonly events: Array<Record<string, unknown>>;
  next(event: string, timeoutMs: number): Promise<Record<string, unknown>>;
  dispose(): Promise<void>;
}

function startHolder(url: string, name: string, ttlMs: number): Holder {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = fileURLToPath(new URL('./test-support/paused-holder.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', tsx, '--conditions=@lockstep/source', script, url, name, String(ttlMs)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const events: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr = (stderr + String(chunk)).slice(-4_000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    events,
    async next(event, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = events.find((e) => e.event === event);
        if (found) return found;
        if (child.exitCode !== null || performance.now() > deadline) {
          throw new Error(`holder process: no "${event}" event (exit ${child.exitCode}); stderr: ${stderr}`);
        }
        await sleep(10);
      }
    },
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}
