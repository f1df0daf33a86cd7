import { describe, expect, it } from 'vitest';
import { backendOfUrl, parseCompareArgs, requiredCompareBackends, UsageError } from './args.js';

describe('parseCompareArgs', () => {
  it('defaults to every backend, ./lockstep-report, benchmarks on', () => {
    expect(parseCompareArgs([])).toEqual({
      backends: ['memory', 'file', 'redis', 'redlock', 'etcd', 'zookeeper', 'consul', 'postgres'],
      urls: {},
      out: 'lockstep-report',
      bench: true,
      help: false,
    });
  });

  it('reads --only, --url, --out and --no-bench in both spellings, keeping report order', () => {
    const args = parseCompareArgs([
      '--only',
      'postgres,memory',
      '--only=redlock',
      '--url',
      'redlock://127.0.0.1:1,127.0.0.1:2',
      '--url=postgresql://u:p@h/db',
      '--out=/tmp/r',
      '--no-bench',
    ]);
    expect(args.backends).toEqual(['memory', 'redlock', 'postgres']);
    expect(args.urls).toEqual({
      redlock: 'redlock://127.0.0.1:1,127.0.0.1:2',
      postgres: 'postgresql://u:p@h/db',
    });
    expect(args.out).toBe('/tmp/r');
    expect(args.bench).toBe(false);
  });

  it('accepts the old `compare` subcommand and ignores it', () => {
    expect(parseCompareArgs(['compare', '--only', 'redis'])).toEqual(parseCompareArgs(['--only', 'redis']));
  });

  it('--help text names every flag, every backend and every environment variable it reads', async () => {
    const { USAGE } = await import('./args.js');
    for (const flag of ['--only', '--url', '--out', '--no-bench', '--help']) expect(USAGE).toContain(flag);
    for (const backend of ['memory', 'file', 'redis', 'redlock', 'etcd', 'zookeeper', 'consul', 'postgres'])
      expect(USAGE).toContain(backend);
    for (const variable of ['LOCKSTEP_REQUIRE', 'LOCKSTEP_TEST_<KIND>_URL', 'NO_COLOR'])
      expect(USAGE).toContain(variable);
  });

  it('picks the backend from the URL scheme', () => {
    expect(backendOfUrl('rediss://h:1')).toBe('redis');
    expect(backendOfUrl('redlock://a:1,b:2,c:3')).toBe('redlock');
    expect(backendOfUrl('file:///tmp/x')).toBe('file');
    expect(backendOfUrl('zookeeper://h:2181/chroot')).toBe('zookeeper');
    expect(() => backendOfUrl('mysql://h')).toThrow(UsageError);
  });

  it('rejects what it cannot honour', () => {
    expect(() => parseCompareArgs(['--only', 'mongodb'])).toThrow(/unknown backend "mongodb"/);
    expect(() => parseCompareArgs(['--url'])).toThrow(/needs a value/);
    expect(() => parseCompareArgs(['--out', '--no-bench'])).toThrow(/needs a value/);
    expect(() => parseCompareArgs(['--url', 'redis://a', '--url', 'rediss://b'])).toThrow(
      /two --url values for redis/,
    );
    expect(() => parseCompareArgs(['--only', 'memory', '--url', 'redis://a'])).toThrow(
      /--only leaves redis out/,
    );
    expect(() => parseCompareArgs(['--frobnicate'])).toThrow(UsageError);
    expect(() => parseCompareArgs(['--no-bench=yes'])).toThrow(/takes no value/);
  });
});

describe('requiredCompareBackends', () => {
  it('parses LOCKSTEP_REQUIRE: lists, aliases, all', () => {
    expect([...requiredCompareBackends(undefined)]).toEqual([]);
    expect([...requiredCompareBackends('postgresql, zk memory')].sort()).toEqual([
      'memory',
      'postgres',
      'zookeeper',
    ]);
    expect([...requiredCompareBackends('redis')].sort()).toEqual(['redis', 'redlock']);
    expect(requiredCompareBackends('all').size).toBe(8);
    expect([...requiredCompareBackends('nonsense')]).toEqual([]);
  });
});
