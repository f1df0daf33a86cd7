import { describe, expect, it } from 'vitest';
import { AdapterNotInstalledError, InvalidArgumentError } from './errors.js';
import { connect } from './index.js';
import { queryOptions, registerAdapter } from './kit.js';
import { loadAdapterPackage } from './registry.js';

describe('connect(url)', () => {
  it('passes query parameters as options, explicit options winning', async () => {
    let seen: unknown;
    registerAdapter({
      schemes: ['testscheme'],
      packageName: '@example/test',
      connect: async (_url, options) => {
        seen = options;
        return connect('memory://registry');
      },
    });
    const coord = await connect('testscheme://h?prefix=app&connectTimeoutMs=250&flag=true', {
      prefix: 'win',
    });
    expect(seen).toEqual({ prefix: 'win', connectTimeoutMs: 250, flag: true });
    await coord.close();
  });

  it('rejects unknown schemes and malformed URLs with InvalidArgumentError', async () => {
    await expect(connect('ftp://x')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect('not a url')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(queryOptions(new URL('x://h?a=1&b=no'))).toEqual({ a: 1, b: 'no' });
  });

  it('parses comma-separated host:port lists as one host (redlock://, etcd://, zookeeper://)', async () => {
    let seen: URL | undefined;
    registerAdapter({
      schemes: ['hostlist'],
      packageName: '@example/hostlist',
      connect: async (url) => {
        seen = url;
        return connect('memory://registry');
      },
    });
    const coord = await connect('hostlist://u:pw@h1:1,h2:2,[::1]:3/db?prefix=p');
    expect(decodeURIComponent(seen!.hostname).split(',')).toEqual(['h1:1', 'h2:2', '[::1]:3']);
    expect([seen!.username, seen!.password, seen!.pathname, seen!.search]).toEqual([
      'u',
      'pw',
      '/db',
      '?prefix=p',
    ]);
    await coord.close();
  });

  it('names the package to install when a known adapter is missing', async () => {
    const error = await loadAdapterPackage('consul', '@lockstep/not-installed').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as AdapterNotInstalledError).packageName).toBe('@lockstep/not-installed');
    expect((error as Error).message).toContain('npm install @lockstep/not-installed');
  });
});
