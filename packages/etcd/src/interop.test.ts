/**
 * interop.etcdctl: a lock at a native location (`lock(name, { native: '/locks/x' })`) and
 * `etcdctl lock /locks/x` (etcd's own `concurrency.Mutex`, the real binary) exclude each other,
 * in both directions, and under mixed contention.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Coordinator, connect, InvalidArgumentError } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { Etcd3 } from 'etcd3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import './index.js';

const etcd = useServer('etcd');
const open: Coordinator[] = [];
const children = new Set<ChildProcess>();
let scratch = '';
let etcdctl: string | undefined;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'lockstep-etcdctl-'));
  try {
    etcdctl = execFileSync('sh', ['-c', 'command -v etcdctl'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    etcdctl = undefined;
  }
  return () => rmSync(scratch, { recursive: true, force: true });
});

afterEach(async (context) => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  void context;
});

function endpoints(): string {
  return decodeURIComponent(etcd.url.replace('etcd://', ''));
}

/** `etcdctl lock PREFIX -- sh -c SCRIPT`, with its output lines. */
function etcdctlLock(prefix: string, script: string) {
  const child = spawn(etcdctl!, ['--endpoints', endpoints(), 'lock', prefix, '--', 'sh', '-c', script], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: Array<{ line: string; at: number }> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += String(chunk);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push({ line, at: performance.now() }));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    async seen(text: string, timeoutMs: number): Promise<number> {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const hit = lines.find((l) => l.line.includes(text));
        if (hit) return hit.at;
        if (performance.now() > deadline || child.exitCode !== null) {
          throw new Error(`etcdctl never printed "${text}" (exit ${child.exitCode}): ${stderr}`);
        }
        await sleep(10);
      }
    },
  };
}

async function coordinator(): Promise<Coordinator> {
  const c = await connect(etcd.url, { prefix: 'interop' });
  open.push(c);
  return c;
}

describe('interop.etcdctl: native locks and `etcdctl lock` exclude each other', () => {
  it('validates native locations before any I/O', async () => {
    const c = await coordinator();
    for (const bad of ['', 42n, [1, 2] as const, 'a\0b', '\ud800']) {
      expect(() => c.lock('x', { native: bad as string })).toThrow(InvalidArgumentError);
    }
    expect(() => c.lock('x', { native: '/locks/ok' })).not.toThrow();
  });

  it('puts its key where concurrency.Mutex does: <prefix>/<lease id in hex>, on its own lease', async (context) => {
    if (!etcdctl) return context.skip('etcdctl is not installed (Debian: etcd-client)');
    const c = await coordinator();
    const raw = new Etcd3({ hosts: `http://${endpoints()}` });
    try {
      const a = await c.lock('a', { native: '/locks/layout' }).acquire();
      const waiting = c.lock('b', { native: '/locks/layout' }).acquire();
      let kvs = (await raw.getAll().prefix('/locks/layout/').exec()).kvs;
      for (let i = 0; i < 100 && kvs.length < 2; i++) {
        await sleep(20);
        kvs = (await raw.getAll().prefix('/locks/layout/').exec()).kvs;
      }
      expect(kvs).toHaveLength(2);
      for (const kv of kvs) expect(kv.key.toString()).toBe(`/locks/layout/${BigInt(kv.lease).toString(16)}`);
      expect(new Set(kvs.map((kv) => kv.lease)).size).toBe(2);
      expect(BigInt(kvs.find((kv) => BigInt(kv.create_revision) === a.fencingToken)!.create_revision)).toBe(
        a.fencingToken,
      );
      await a.release();
      const b = await waiting;
      expect(b.fencingToken).toBeGreaterThan(a.fencingToken);
      await b.release();
      expect((await raw.getAll().prefix('/locks/layout/').keys()).length).toBe(0);
    } finally {
      raw.close();
    }
  });

  it('a process taking a native lock again reuses its lease, and so the key name', async () => {
    const c = await coordinator();
    const lock = c.lock('again', { native: '/locks/again' });
    const raw = new Etcd3({ hosts: `http://${endpoints()}` });
    try {
      const keys = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const held = await lock.acquire();
        keys.add((await raw.getAll().prefix('/locks/again/').keys())[0]!);
        await held.release();
      }
      expect(keys.size).toBe(1);
    } finally {
      raw.close();
    }
  });

  it('while etcdctl holds the lock, lockstep waits; it gets the lock when etcdctl lets go', async (context) => {
    if (!etcdctl) return context.skip('etcdctl is not installed (Debian: etcd-client)');
    const c = await coordinator();
    // etcdctl gives its command no stdin: the command holds until a file appears.
    const letGo = join(scratch, 'let-go');
    const peer = etcdctlLock(
      '/locks/reports',
      `echo LOCKED $ETCD_LOCK_KEY; while [ ! -e "${letGo}" ]; do sleep 0.02; done; echo UNLOCKING`,
    );
    await peer.seen('LOCKED', 15_000);
    const lock = c.lock('reports', { native: '/locks/reports' });
    expect(await lock.tryAcquire()).toBeNull();
    const waiting = lock.acquire({ waitMs: 20_000 });
    let granted = false;
    void waiting.then(() => {
      granted = true;
    });
    await sleep(500);
    expect(granted).toBe(false);
    closeSync(openSync(letGo, 'w'));
    const unlockingAt = await peer.seen('UNLOCKING', 5_000);
    const held = await waiting;
    const grantedAfterMs = performance.now() - unlockingAt;
    expect(await peer.exited).toBe(0);
    expect(grantedAfterMs).toBeLessThan(2_000);
    await held.release();
  });

  it('while lockstep holds the lock, etcdctl waits; it gets the lock when lockstep releases', async (context) => {
    if (!etcdctl) return context.skip('etcdctl is not installed (Debian: etcd-client)');
    const c = await coordinator();
    const held = await c.lock('jobs', { native: '/locks/jobs' }).acquire();
    const peer = etcdctlLock('/locks/jobs', 'echo LOCKED');
    await sleep(1_000);
    expect(peer.lines.some((l) => l.line.includes('LOCKED'))).toBe(false);
    const releasedAt = performance.now();
    expect(await held.release()).toBe(true);
    const lockedAt = await peer.seen('LOCKED', 10_000);
    expect(lockedAt).toBeGreaterThan(releasedAt);
    expect(await peer.exited).toBe(0);
  });

  it('under mixed contention nobody is ever inside together, and lockstep tokens keep increasing', async (context) => {
    if (!etcdctl) return context.skip('etcdctl is not installed (Debian: etcd-client)');
    const flag = join(scratch, 'inside');
    const rounds = 6;
    // Each critical section creates the flag file exclusively (noclobber), holds, removes it: a
    // second holder inside at the same time finds the file and reports an overlap.
    const script = `set -C; if ! : > "${flag}" 2>/dev/null; then echo OVERLAP; fi; sleep 0.05; rm -f "${flag}"; echo DONE`;
    const etcdctlLoop = async () => {
      let overlaps = 0;
      for (let i = 0; i < rounds; i++) {
        const peer = etcdctlLock('/locks/mixed', script);
        expect(await peer.exited, peer.stderr()).toBe(0);
        overlaps += peer.lines.filter((l) => l.line.includes('OVERLAP')).length;
      }
      return overlaps;
    };
    const lockstepLoop = async () => {
      const c = await coordinator();
      const lock = c.lock('mixed', { native: '/locks/mixed' });
      const tokens: Array<{ at: number; token: bigint }> = [];
      let overlaps = 0;
      for (let i = 0; i < rounds * 2; i++) {
        const held = await lock.acquire({ waitMs: 30_000 });
        tokens.push({ at: performance.now(), token: held.fencingToken });
        try {
          closeSync(openSync(flag, 'wx'));
        } catch {
          overlaps++;
        }
        await sleep(20);
        try {
          unlinkSync(flag);
        } catch {
          // Someone else's overlap removed it.
        }
        await held.release();
      }
      return { overlaps, tokens };
    };
    const [e1, e2, l1, l2] = await Promise.all([
      etcdctlLoop(),
      etcdctlLoop(),
      lockstepLoop(),
      lockstepLoop(),
    ]);
    expect(e1 + e2 + l1.overlaps + l2.overlaps).toBe(0);
    // In grant order (both lockstep clients together), tokens strictly increase.
    const grants = [...l1.tokens, ...l2.tokens].sort((a, b) => a.at - b.at);
    for (let i = 1; i < grants.length; i++) expect(grants[i]!.token).toBeGreaterThan(grants[i - 1]!.token);
  }, 120_000);
});
