/**
 * interop.etcdctl: a lock at a native location (`lock(name, { native: '/locks/x' })`) and
 * `etcdctl lock /locks/x` (etcd's own `concurrency.Mutex`, the real binary) exclude each other,
 * in both directions, and under mixed contention. interop.etcdctl.elect: an election at a native
 * location and `etcdctl elect` (`concurrency.Election`) are one election, seen from both sides.
 */

import { runInteropTest } from '@lockstep/conformance/vitest';
import { type Coordinator, connect, InvalidArgumentError } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import './index.js';
import { ETCD_INTEROP } from './testing/index.js';

// The scenarios against etcdctl live in this package's testing tools (src/testing/interop.ts), so that
// `pnpm compare` reports the very same checks as interop.etcdctl.

const etcd = useServer('etcd');
const open: Coordinator[] = [];

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

function endpoints(): string {
  return decodeURIComponent(etcd.url.replace('etcd://', ''));
}

async function coordinator(): Promise<Coordinator> {
  const c = await connect(etcd.url, { prefix: 'interop' });
  open.push(c);
  return c;
}

describe('interop.etcdctl: native locks and elections shared with etcdctl lock and etcdctl elect', () => {
  it('validates native locations before any I/O', async () => {
    const c = await coordinator();
    for (const bad of ['', 42n, [1, 2] as const, 'a\0b', '\ud800']) {
      expect(() => c.lock('x', { native: bad as string })).toThrow(InvalidArgumentError);
    }
    expect(() => c.lock('x', { native: '/locks/ok' })).not.toThrow();
    for (const bad of ['', 42n, 'a\0b', '\ud800']) {
      expect(() => c.election('x', { native: bad as string })).toThrow(InvalidArgumentError);
    }
    expect(() => c.election('x', { native: '/elections/ok' })).not.toThrow();
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

  for (const scenario of ETCD_INTEROP) {
    it(
      scenario.title,
      (context) =>
        runInteropTest(context, scenario, {
          name: 'etcd',
          source: etcd.handle.source,
          url: etcd.url,
          adapterModule: '@lockstep/etcd',
          connect: (override) => connect(override ?? etcd.url, { prefix: 'interop' }),
        }),
      scenario.timeoutMs ?? 60_000,
    );
  }
});
