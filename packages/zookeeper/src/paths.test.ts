/**
 * Pure functions: URL parsing, the path layout, native path checks and Curator's queue order.
 */
import { InvalidArgumentError } from '@lockstep/core';
import { resourceRef } from '@lockstep/core/driver';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from './options.js';
import { ancestry, asUuid, contenderPrefix, counterPath, lockLayout, validateNativePath } from './paths.js';
import { positionOf, queueOrder, sortingKey } from './queue.js';
import { parseZooKeeperUrl } from './url.js';

const url = (text: string) => {
  // As core's connect() hands it over: a host list percent-encoded into one opaque host.
  const listed = text.replace(
    /^(zookeeper:\/\/)([^/?#]*,[^/?#]*)/,
    (_, s: string, h: string) => s + h.replaceAll(':', '%3A'),
  );
  return new URL(listed);
};

describe('zookeeper:// URLs', () => {
  it('reads servers (default port 2181), the chroot and digest credentials', () => {
    expect(parseZooKeeperUrl(url('zookeeper://a:1,b:2,c/apps/billing'))).toEqual({
      servers: ['a:1', 'b:2', 'c:2181'],
      hosts: [
        { host: 'a', port: 1, ipv6: false },
        { host: 'b', port: 2, ipv6: false },
        { host: 'c', port: 2181, ipv6: false },
      ],
      chroot: '/apps/billing',
    });
    expect(parseZooKeeperUrl(url('zookeeper://u:p%40ss@h:2181/'))).toEqual({
      servers: ['h:2181'],
      hosts: [{ host: 'h', port: 2181, ipv6: false }],
      chroot: '',
      digest: 'u:p@ss',
    });
    expect(parseZooKeeperUrl(url('zookeeper://h/a%20b/'))).toMatchObject({ chroot: '/a b' });
  });

  it('rejects what node-zookeeper-client or ZooKeeper would not take', () => {
    for (const bad of [
      'zookeeper://',
      'zookeeper://h:0',
      'zookeeper://a:1,h:99999',
      'zookeeper://[::1]:2181',
      'zookeeper://h/a//b',

      'zookeeper://h/a%2Fb',
    ]) {
      expect(() => parseZooKeeperUrl(url(bad)), bad).toThrow(InvalidArgumentError);
    }
  });

  it('validates options', () => {
    expect(resolveOptions({})).toEqual({
      prefix: undefined,
      connectTimeoutMs: 5_000,
      sessionTimeoutMs: 15_000,
    });
    for (const bad of [
      { sessionTimeoutMs: 0 },
      { sessionTimeoutMs: 1.5 },
      { connectTimeoutMs: '5' },
      { prefix: '' },
    ]) {
      expect(() => resolveOptions(bad as never)).toThrow(InvalidArgumentError);
    }
  });
});

describe('layout', () => {
  it('maps names injectively into one segment, locks and counters apart', () => {
    const a = resourceRef('app', 'a/b');
    const b = resourceRef('app', 'a%2Fb');
    expect(lockLayout('', a).queue).toBe('/app/locks/a%2Fb');
    expect(lockLayout('', b).queue).toBe('/app/locks/a%252Fb');
    expect(counterPath('/root', a)).toBe('/root/app/counters/a%2Fb');
    expect(lockLayout('', resourceRef('app', '..')).queue).toBe('/app/locks/%2E.');
    expect(lockLayout('', resourceRef('zookeeper', 'x')).queue).toBe('/%7Aookeeper/locks/x');
    expect(lockLayout('/c', { ...a, native: '/locks/reports' })).toEqual({
      queue: '/c/locks/reports',
      native: true,
    });
  });

  it('names contenders with a canonical UUID, as Curator protects its creates', () => {
    const id = asUuid('0123456789abcdef0123456789abcdef');
    expect(id).toBe('01234567-89ab-cdef-0123-456789abcdef');
    expect(contenderPrefix(id)).toBe('_c_01234567-89ab-cdef-0123-456789abcdef-lock-');
    expect(ancestry('/a/b/c')).toEqual(['/a', '/a/b', '/a/b/c']);
  });

  it('accepts native paths ZooKeeper accepts, and only those', () => {
    for (const good of ['/locks/reports', '/a', '/ünïcödé/lock', '/a.b/..c'])
      expect(() => validateNativePath(good)).not.toThrow();
    for (const bad of [
      '',
      'x',
      '/',
      '/a/',
      '//a',
      '/a/./b',
      '/a/../b',
      '/zookeeper',
      '/zookeeper/q',
      '/a\u0001',
      '/emoji😀',
      7n,
    ]) {
      expect(() => validateNativePath(bad as never), String(bad)).toThrow(InvalidArgumentError);
    }
  });
});

describe("Curator's queue order", () => {
  it('orders by what follows the last "lock-", as strings, stably', () => {
    expect(sortingKey('_c_x-lock-0000000007')).toBe('0000000007');
    expect(sortingKey('other')).toBe('other');
    const children = ['_c_b-lock-0000000003', 'zzz', '_c_a-lock-0000000001', 'x-lock-lock-0000000002'];
    expect(queueOrder(children)).toEqual([
      '_c_a-lock-0000000001',
      'x-lock-lock-0000000002',
      '_c_b-lock-0000000003',
      'zzz',
    ]);
  });

  it('finds the holder and the one node to watch without sorting', () => {
    const children = ['_c_c-lock-0000000009', '_c_a-lock-0000000002', '_c_b-lock-0000000005'];
    expect(positionOf(children, '_c_a-lock-0000000002')).toEqual({ kind: 'holder' });
    expect(positionOf(children, '_c_c-lock-0000000009')).toEqual({
      kind: 'waiting',
      predecessor: '_c_b-lock-0000000005',
      ahead: 2,
    });
    expect(positionOf(children, 'missing')).toEqual({ kind: 'gone' });
    // Agrees with a full sort on random queues.
    for (let round = 0; round < 200; round++) {
      const names = Array.from(
        { length: 1 + Math.floor(Math.random() * 8) },
        (_, i) => `_c_${i}-lock-${String(Math.floor(Math.random() * 50)).padStart(10, '0')}`,
      );
      const ordered = queueOrder(names);
      for (const name of names) {
        const at = ordered.indexOf(name);
        const position = positionOf(names, name);
        if (at === 0) expect(position).toEqual({ kind: 'holder' });
        else expect(position).toEqual({ kind: 'waiting', predecessor: ordered[at - 1], ahead: at });
      }
    }
  });
});
