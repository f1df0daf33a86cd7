/** Exact uint64 handling of Consul JSON (flags, indexes). No server needed. */
import { describe, expect, it } from 'vitest';
import { kvEntry, parseConsulJson, singleEntry, stringifyConsulJson, uint64Literal } from './json.js';
import { LOCK_FLAG_VALUE } from './native.js';

describe('Consul JSON', () => {
  it('reads Flags and indexes beyond 2^53 exactly', () => {
    const text = `[{"LockIndex":1,"Key":"p/.lock","Flags":3304740253564472344,"Value":"eA==","Session":"s","CreateIndex":9007199254740993,"ModifyIndex":18446744073709551615}]`;
    const entry = singleEntry(text);
    expect(entry.flags).toBe(LOCK_FLAG_VALUE);
    expect(entry.createIndex).toBe(9007199254740993n);
    expect(entry.modifyIndex).toBe(18446744073709551615n);
    expect(entry.value.toString()).toBe('x');
    expect(entry.session).toBe('s');
  });

  it('never rewrites digits inside strings', () => {
    const parsed = parseConsulJson('{"Key":"a\\"Flags\\":12345678901234567890","Flags":1}') as Record<
      string,
      unknown
    >;
    expect(parsed.Key).toBe('a"Flags":12345678901234567890');
    expect(kvEntry(parsed).flags).toBe(1n);
  });

  it('writes uint64 values as bare numbers', () => {
    const text = stringifyConsulJson([{ KV: { Flags: uint64Literal(LOCK_FLAG_VALUE), Key: 'k' } }]);
    expect(text).toBe('[{"KV":{"Flags":3304740253564472344,"Key":"k"}}]');
  });

  it('treats a missing Session and null Value as empty', () => {
    const entry = kvEntry({ Key: 'k', Flags: 0, LockIndex: 0, CreateIndex: 1, ModifyIndex: 2, Value: null });
    expect(entry.session).toBe('');
    expect(entry.value.length).toBe(0);
  });
});
