import { InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from './url.js';

// core's connect() percent-encodes the `:` of comma-separated host lists before parsing.
const url = (s: string) => new URL(s);

describe('parseRedisUrl', () => {
  it('reads host, port, credentials and database', () => {
    expect(parseRedisUrl(url('redis://user:p%40ss@cache.local:6380/3'))).toEqual({
      endpoints: [{ host: 'cache.local', port: 6380, ipv6: false }],
      username: 'user',
      password: 'p@ss',
      db: 3,
      tls: false,
    });
    expect(parseRedisUrl(url('rediss://h'))).toMatchObject({
      endpoints: [{ host: 'h', port: 6379, ipv6: false }],
      tls: true,
    });
    expect(parseRedisUrl(url('redis://[::1]:7000')).endpoints).toEqual([
      { host: '::1', port: 7000, ipv6: true },
    ]);
  });

  it('reads a Redlock host list', () => {
    const target = parseRedisUrl(url('redlock://:pw@h1%3A1,h2%3A2,h3'));
    expect(target.endpoints).toEqual([
      { host: 'h1', port: 1, ipv6: false },
      { host: 'h2', port: 2, ipv6: false },
      { host: 'h3', port: 6379, ipv6: false },
    ]);
    expect(target.password).toBe('pw');
  });

  it('rejects what it cannot use with InvalidArgumentError', () => {
    expect(() => parseRedisUrl(url('redis://h1%3A1,h2%3A2'))).toThrow(InvalidArgumentError);
    expect(() => parseRedisUrl(url('redis://h/notadb'))).toThrow(InvalidArgumentError);
    expect(() => parseRedisUrl(url('redlock://h1%3A99999,h2'))).toThrow(InvalidArgumentError);
    expect(() => parseRedisUrl(url('redlock://h1,,h2'))).toThrow(InvalidArgumentError);
  });
});
