import { describe, expect, it } from 'vitest';
import { hostList, isInProcess, isProxyable, schemeOf, withHostList, withQueryParam } from './target.js';

const base = {
  name: 'redis',
  source: 'binary',
  adapterModule: 'x',
  connect: async () => ({}) as never,
} as const;

describe('target URL helpers', () => {
  it('lists hosts of single and multi-host URLs', () => {
    expect(hostList('redis://127.0.0.1:6379')).toEqual([{ host: '127.0.0.1', port: 6379 }]);
    expect(hostList('redlock://a:1,b:2,[::1]:3/0?x=1')).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
      { host: '[::1]', port: 3 },
    ]);
    expect(hostList('postgres://user:pw@db/app')).toEqual([{ host: 'db', port: undefined }]);
    expect(hostList('file:///tmp/x')).toEqual([]);
  });

  it('replaces hosts and adds query parameters without breaking host lists', () => {
    expect(withHostList('postgres://u:p@h:1/db?ssl=false', [{ host: '127.0.0.1', port: 9 }])).toBe(
      'postgres://u:p@127.0.0.1:9/db?ssl=false',
    );
    expect(
      withHostList('etcd://a:1,b:2', [
        { host: 'x', port: 3 },
        { host: 'y', port: 4 },
      ]),
    ).toBe('etcd://x:3,y:4');
    expect(withQueryParam('redlock://a:1,b:2', 'connectTimeoutMs', '1500')).toBe(
      'redlock://a:1,b:2?connectTimeoutMs=1500',
    );
    expect(withQueryParam('redis://h:1/0?prefix=p&connectTimeoutMs=5', 'connectTimeoutMs', '9')).toBe(
      'redis://h:1/0?prefix=p&connectTimeoutMs=9',
    );
  });

  it('classifies targets', () => {
    expect(schemeOf('PostgreSQL://h')).toBe('postgresql');
    expect(isInProcess({ ...base, url: 'memory://x' })).toBe(true);
    expect(isInProcess({ ...base, url: 'redis://h:1' })).toBe(false);
    expect(isInProcess({ ...base, url: 'custom://h', inProcess: true })).toBe(true);
    expect(isProxyable({ ...base, url: 'redis://h:1' })).toBe(true);
    expect(isProxyable({ ...base, url: 'file:///tmp' })).toBe(false);
    expect(isProxyable({ ...base, url: 'memory://x' })).toBe(false);
    expect(isProxyable({ ...base, url: 'redis://h:1', proxyable: false })).toBe(false);
  });
});
