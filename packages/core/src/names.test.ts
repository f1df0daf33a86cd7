import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import { decodeName, encodeName, hash64, validateName } from './names.js';

describe('names', () => {
  const tricky = [
    'a/b',
    'a%2Fb',
    'a%2fb',
    '.',
    '..',
    '.hidden',
    'zookeeper',
    'with space',
    'ünï©ødé',
    '日本',
    '🔒',
    'a:b',
    'A',
    'a',
    '%',
    '%25',
    'a\u0000b',
    'x'.repeat(1024),
  ];

  it('encodes injectively into one safe ASCII path segment', () => {
    const encoded = tricky.map(encodeName);
    expect(new Set(encoded).size).toBe(tricky.length);
    for (const [i, segment] of encoded.entries()) {
      expect(segment).toMatch(/^[\x21-\x7e]+$/);
      expect(segment).not.toContain('/');
      expect(segment.startsWith('.')).toBe(false);
      expect(decodeName(segment)).toBe(tricky[i]);
    }
  });

  it('accepts up to 1024 UTF-8 bytes and rejects the rest before any I/O', () => {
    expect(validateName('é'.repeat(512))).toHaveLength(512);
    expect(() => validateName('é'.repeat(513))).toThrow(InvalidArgumentError);
    for (const bad of ['', 42, null, undefined, '\ud800x'])
      expect(() => validateName(bad)).toThrow(InvalidArgumentError);
  });

  it('hash64 separates part boundaries and is a signed 64-bit value', () => {
    expect(hash64('ab', 'c')).not.toBe(hash64('a', 'bc'));
    const h = hash64('lockstep', 'x');
    expect(h).toBeGreaterThanOrEqual(-(2n ** 63n));
    expect(h).toBeLessThan(2n ** 63n);
    expect(hash64('lockstep', 'x')).toBe(h);
  });
});
