/** Key layout: injective, and inside what Consul agents accept as KV keys. No server needed. */
import { encodeName, resourceRef } from '@lockstep/core/driver';
import { describe, expect, it } from 'vitest';
import {
  counterKey,
  decodeKeySegment,
  keySegment,
  kvPath,
  lockKey,
  nativeLockKey,
  normaliseNativePrefix,
} from './keys.js';

/**
 * What newer Consul agents refuse on /v1/kv (the agent's KV key validation, on by default): other
 * characters than letters, digits and `,._/-`; `..` beside a slash or at either end; a leading
 * slash; a trailing "web" file extension. Written here from that description, not copied.
 */
function acceptedByConsul(key: string): boolean {
  if (!/^[A-Za-z0-9,._/-]+$/.test(key) || key.startsWith('/')) return false;
  if (/\.\.\//.test(key) || key.startsWith('..') || key.endsWith('..')) return false;
  if (/\.(js|css|html?|xml|json|txt|log|php|sh|exe|pdf|zip|png|svg)$/i.test(key)) return false;
  return true;
}

const NAMES = [
  'a',
  'a/b',
  'a%2Fb',
  'a,2Fb',
  '..',
  '.hidden',
  'app.js',
  'config.json',
  ' spaced ',
  'ünïcödé ✓',
  '日本語',
  '%',
  ',',
  'x'.repeat(1024),
  'emoji 🔒',
  'a\u0000b',
  'tab\there',
];

describe('key layout', () => {
  it('encodes every name into [A-Za-z0-9_,-] only, reversibly', () => {
    for (const name of NAMES) {
      const segment = keySegment(name);
      expect(segment).toMatch(/^[A-Za-z0-9_,-]+$/);
      expect(decodeKeySegment(segment)).toBe(name);
    }
  });

  it('is injective: distinct names give distinct keys (a/b vs a%2Fb vs a,2Fb)', () => {
    const keys = NAMES.map((n) => keySegment(n));
    expect(new Set(keys).size).toBe(NAMES.length);
  });

  it('puts locks and counters in different key spaces and every key passes Consul key validation', () => {
    for (const name of NAMES) {
      const ref = resourceRef('my app/v2', name);
      const lock = lockKey(ref);
      const counter = counterKey({ ...ref });
      expect(lock).not.toBe(counter);
      expect(lock).toBe(`my,20app,2Fv2/lock/${keySegment(name)}`);
      expect(acceptedByConsul(lock)).toBe(true);
      expect(acceptedByConsul(counter)).toBe(true);
    }
  });

  it('explains why core encodeName is not used: its output would be refused by newer agents', () => {
    expect(acceptedByConsul(`lockstep/lock/${encodeName('invoice:42')}`)).toBe(false);
    expect(acceptedByConsul(`lockstep/lock/${keySegment('invoice:42')}`)).toBe(true);
  });

  it('percent-encodes URL paths so the agent decodes them back to the exact key', () => {
    expect(kvPath('a,b/.lock')).toBe('/v1/kv/a%2Cb/.lock');
    expect(decodeURIComponent(kvPath('p/lock/x,20y'))).toBe('/v1/kv/p/lock/x,20y');
  });
});

describe('native locations (consul lock prefixes)', () => {
  it('uses <prefix>/.lock like `consul lock` (path.Join(prefix, ".lock"), leading slash stripped)', () => {
    expect(nativeLockKey('service/reports')).toBe('service/reports/.lock');
    expect(nativeLockKey('/service/reports/')).toBe('service/reports/.lock');
    expect(lockKey({ ...resourceRef('p', 'n'), native: 'jobs/nightly' })).toBe('jobs/nightly/.lock');
    expect(acceptedByConsul(nativeLockKey('a.b/c-d_e,f'))).toBe(true);
  });

  it('refuses prefixes Consul would refuse or path.Join would rewrite, before any I/O', () => {
    for (const bad of [
      '',
      '/',
      'a//b',
      'a/./b',
      'a/../b',
      '..',
      'a../b',
      'a b',
      'a:b',
      'ü',
      'a%2Fb',
      42,
      7n,
      [1, 2],
    ]) {
      expect(() => normaliseNativePrefix(bad), String(bad)).toThrow(/native/);
    }
  });
});
