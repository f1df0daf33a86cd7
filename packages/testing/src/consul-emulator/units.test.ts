/** Unit checks for the parsing helpers the endpoints rely on. */
import { describe, expect, it } from 'vitest';
import { parseGoDuration } from './duration.js';
import { cleanPath, isPrintable } from './http-kit.js';
import { parseJson, toJson } from './json.js';

describe('Go duration grammar (TTL, LockDelay, wait)', () => {
  it('parses the forms Consul documents and Go accepts', () => {
    expect(parseGoDuration('15s')).toBe(15e9);
    expect(parseGoDuration('5m')).toBe(300e9);
    expect(parseGoDuration('1h30m')).toBe(5400e9);
    expect(parseGoDuration('1.5s')).toBe(1.5e9);
    expect(parseGoDuration('.5s')).toBe(0.5e9);
    expect(parseGoDuration('250ms')).toBe(250e6);
    expect(parseGoDuration('10us')).toBe(10e3);
    expect(parseGoDuration('10µs')).toBe(10e3);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('-2s')).toBe(-2e9);
  });

  it('rejects what Go rejects', () => {
    for (const text of ['', '15', 's', '.s', '1d', '1 s', '1.5', 'ten', '+']) {
      expect(parseGoDuration(text), JSON.stringify(text)).toBeUndefined();
    }
    expect(parseGoDuration('9999999999h')).toBeUndefined(); // overflows Go's int64 nanoseconds
  });
});

describe('JSON with exact uint64', () => {
  it('keeps integers beyond 2^53 as bigint and writes them back exactly', () => {
    const parsed = parseJson('{"Flags":18446744073709551615,"Small":42,"Float":1.5,"List":[true,null,"x"]}');
    expect(parsed).toEqual({ Flags: 18446744073709551615n, Small: 42, Float: 1.5, List: [true, null, 'x'] });
    expect(toJson(parsed)).toBe(
      '{"Flags":18446744073709551615,"Small":42,"Float":1.5,"List":[true,null,"x"]}',
    );
  });

  it('decodes string escapes, refuses malformed text, and never lets "__proto__" become a prototype', () => {
    expect(parseJson('"a\\"b\\u00e9\\n"')).toBe('a"bé\n');
    for (const text of ['{', '[1,]', '{"a" 1}', '01', 'tru', '"open', '1 2']) {
      expect(() => parseJson(text), text).toThrow(SyntaxError);
    }
    const hostile = parseJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(hostile)).toBe(Object.prototype);
    expect(Object.keys(hostile)).toEqual(['__proto__']);
  });
});

describe('router helpers', () => {
  it('cleans paths the way Go ServeMux does, keeping a trailing slash', () => {
    expect(cleanPath('/v1/kv/a//b')).toBe('/v1/kv/a/b');
    expect(cleanPath('/v1/kv/a/./b/')).toBe('/v1/kv/a/b/');
    expect(cleanPath('/v1/kv/../../x')).toBe('/x');
    expect(cleanPath('/v1/kv/')).toBe('/v1/kv/');
  });

  it("treats printable text as Go's unicode.IsPrint does", () => {
    expect(isPrintable('/v1/kv/naïve key ✓ 日本')).toBe(true);
    expect(isPrintable('/v1/kv/tab\there')).toBe(false);
    expect(isPrintable('/v1/kv/\u200b')).toBe(false);
    expect(isPrintable('/v1/kv/\u00a0')).toBe(false);
  });
});
