/**
 * Pure functions: URL parsing, key layout, option checks (no server).
 */
import { InvalidArgumentError } from '@lockstep/core';
import { resourceRef } from '@lockstep/core/driver';
import type { ITxnRequest } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { counterKey, lockQueue, memberKey, prefixEnd } from './keys.js';
import { resolveOptions } from './options.js';
import { recheck } from './queue.js';
import type { EtcdRpc } from './rpc.js';
import { parseEtcdUrl } from './url.js';

describe('parseEtcdUrl', () => {
  it('reads one endpoint, a list, default ports, IPv6 and credentials', () => {
    expect(parseEtcdUrl(new URL('etcd://127.0.0.1:2379')).endpoints).toEqual(['127.0.0.1:2379']);
    expect(parseEtcdUrl(new URL('etcd://db.internal')).endpoints).toEqual(['db.internal:2379']);
    // core's connect() hands a host list over percent-encoded as one opaque host.
    const list = new URL('etcd://h1%3A1,h2%3A2,%5B%3A%3A1%5D%3A3');
    expect(parseEtcdUrl(list).endpoints).toEqual(['h1:1', 'h2:2', '[::1]:3']);
    expect(parseEtcdUrl(new URL('etcd://root:s%40cret@h:1')).auth).toEqual({
      username: 'root',
      password: 's@cret',
    });
  });

  it('rejects paths, empty hosts and bad ports', () => {
    expect(() => parseEtcdUrl(new URL('etcd://h:1/x'))).toThrow(InvalidArgumentError);
    expect(() => parseEtcdUrl(new URL('etcd://h1%3A1,h2%3A99999'))).toThrow(InvalidArgumentError);
    expect(() => parseEtcdUrl(new URL('etcd:///'))).toThrow(InvalidArgumentError);
  });
});

describe('key layout', () => {
  const lock = (name: string, prefix = 'app') => ({ ...resourceRef(prefix, name) });

  it('keeps locks and counters of the same name apart', () => {
    const { queue } = lockQueue(lock('x'));
    expect(queue).toBe('app/locks/x/');
    expect(counterKey(lock('x'))).toBe('app/counters/x');
    expect(counterKey(lock('x')).startsWith(queue)).toBe(false);
  });

  it('maps names injectively and no queue is a prefix of another', () => {
    const names = ['a/b', 'a%2Fb', 'a', 'ab', 'a b', '.', '..', 'é', 'a/'];
    const queues = names.map((n) => lockQueue(lock(n)).queue);
    expect(new Set(queues).size).toBe(names.length);
    for (const q of queues)
      for (const other of queues) if (q !== other) expect(other.startsWith(q)).toBe(false);
  });

  it('names contenders by lease and slot, or by lease alone on a native prefix', () => {
    expect(memberKey(lockQueue(lock('x')), 0x1234n, 2)).toBe('app/locks/x/1234-2');
    const native = lockQueue({ ...lock('x'), native: '/locks/reports' });
    expect(native).toEqual({ queue: '/locks/reports/', native: true });
    expect(memberKey(native, 0x694d8f4c2c1d5a04n, 0)).toBe('/locks/reports/694d8f4c2c1d5a04');
  });

  it('prefixEnd bounds exactly the keys that start with the prefix', () => {
    expect(prefixEnd(Buffer.from('a/'))).toEqual(Buffer.from('a0'));
    expect(prefixEnd(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toEqual(Buffer.from([0]));
  });
});

describe('resolveOptions', () => {
  it('defaults and validates', () => {
    expect(resolveOptions({})).toEqual({
      prefix: undefined,
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 5_000,
      tls: false,
    });
    expect(() => resolveOptions({ requestTimeoutMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => resolveOptions({ tls: 'yes' as unknown as boolean })).toThrow(InvalidArgumentError);
    expect(() => resolveOptions({ prefix: '' })).toThrow(InvalidArgumentError);
  });
});

describe('recheck after a delete (the freshness rule)', () => {
  /** An rpc stand-in that answers re-checks from members at the given revisions, queue empty. */
  function membersAt(...revisions: string[]) {
    const sent: ITxnRequest[] = [];
    const rpc = {
      key: (k: string) => Buffer.from(k),
      prefixEnd: (k: string) => prefixEnd(Buffer.from(k)),
      txn: async (request: ITxnRequest) => {
        sent.push(request);
        return {
          succeeded: true,
          header: { revision: revisions.shift() },
          responses: [{ response_range: { kvs: [] } }],
        };
      },
    } as unknown as EtcdRpc;
    const serializable = () => sent.map((r) => r.success?.[0]?.request_range?.serializable);
    return { rpc, serializable };
  }
  const contender = { queue: 'q/', key: 'q/a-0' };

  it('trusts a serializable answer from a member that has applied the delete', async () => {
    const { rpc, serializable } = membersAt('10');
    expect(await recheck(rpc, contender, 5n, 10n)).toEqual({ kind: 'granted' });
    expect(serializable()).toEqual([true]);
  });

  it('asks again, linearizably, when the member that answered is behind the delete', async () => {
    const { rpc, serializable } = membersAt('9', '12');
    expect(await recheck(rpc, contender, 5n, 10n)).toEqual({ kind: 'granted' });
    expect(serializable()).toEqual([true, false]);
  });

  it('reads linearizably when no delete woke us', async () => {
    const { rpc, serializable } = membersAt('3');
    await recheck(rpc, contender, 5n);
    expect(serializable()).toEqual([false]);
  });
});
