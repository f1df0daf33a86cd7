import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import { MAX_TTL_MS, validateBoolean, validateTimeoutMs } from './validate.js';

describe('validateTimeoutMs', () => {
  it('takes positive milliseconds up to the largest timer delay, and the fallback when absent', () => {
    expect(validateTimeoutMs(undefined, 'connectTimeoutMs', 5_000)).toBe(5_000);
    expect(validateTimeoutMs(0.5, 'connectTimeoutMs', 5_000)).toBe(0.5);
    expect(validateTimeoutMs(MAX_TTL_MS, 'connectTimeoutMs', 5_000)).toBe(MAX_TTL_MS);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, MAX_TTL_MS + 1, '100', null])(
    'rejects %s',
    (value) => {
      expect(() => validateTimeoutMs(value, 'requestTimeoutMs', 5_000)).toThrow(InvalidArgumentError);
      expect(() => validateTimeoutMs(value, 'requestTimeoutMs', 5_000)).toThrow(/requestTimeoutMs/);
    },
  );
});

describe('validateBoolean', () => {
  it('takes booleans, and the fallback when absent', () => {
    expect(validateBoolean(undefined, 'tls', false)).toBe(false);
    expect(validateBoolean(undefined, 'createTables', true)).toBe(true);
    expect(validateBoolean(false, 'createTables', true)).toBe(false);
  });

  it.each(['true', 1, null])('rejects %j', (value) => {
    expect(() => validateBoolean(value, 'tls', false)).toThrow(InvalidArgumentError);
  });
});
