/**
 * Names: every valid string is its own lock (no two names share a key, on any backend), lock
 * and counter key spaces are apart, and invalid names and options are refused before I/O.
 * @module
 */
import { InvalidArgumentError, type LockHandle } from '@lockstep/core';
import { check, checkEqual, expectRejection, expectThrow, show } from './assert.js';
import type { ConformanceTest, TestContext } from './types.js';

/**
 * Names that break naive key mappings: separators and their escapes, dot segments,
 * case, Unicode normalisation, control characters, and the 1024-byte limit. Each is
 * appended to a per-run base (so runs never share locks) — except the bare ones, which must
 * work as whole names too.
 */
const TRICKY_SUFFIXES = [
  'a/b',
  'a%2Fb',
  'a%2fb',
  'a b',
  'a+b',
  'a.b',
  '.',
  '..',
  '/',
  '//',
  'a/',
  '/a',
  'A',
  'a',
  '\u00e4',
  'a\u0308',
  '日本語',
  '🔒',
  'a\u0000b',
  'a\nb',
  'a:b',
  'a\\b',
  '*',
  '%',
  '%25',
  "'; DROP TABLE locks; --",
];
/** Whole names (not suffixed): shared across runs, so they are only held briefly. */
const BARE_NAMES = ['.', '..', '/', '%'];

const encoder = new TextEncoder();

/** A name of exactly `bytes` UTF-8 bytes that starts with `base`. */
function nameOfBytes(base: string, bytes: number, filler: string): string {
  let name = `${base}|`;
  while (encoder.encode(name + filler).length <= bytes) name += filler;
  while (encoder.encode(name).length < bytes) name += 'x';
  return name;
}

export const lockNames: ConformanceTest = {
  id: 'lock.names',
  title: 'unusual names are distinct; invalid ones rejected before I/O',
  async run(ctx) {
    const [a, b] = await ctx.clients(2);
    const base = ctx.name('names');
    const names = [
      ...TRICKY_SUFFIXES.map((suffix) => `${base}|${suffix}`),
      ...BARE_NAMES,
      nameOfBytes(base, 1024, 'x'),
      nameOfBytes(base, 1024, 'é'),
      nameOfBytes(base, 1024, '🔒'),
    ];
    checkEqual(new Set(names).size, names.length, 'test names are distinct (harness check)');

    // One client holds every name at once: if two names mapped to one key, the second
    // tryAcquire would find it held.
    const held: LockHandle[] = [];
    try {
      for (const name of names) {
        const handle = BARE_NAMES.includes(name)
          ? await a!.lock(name).acquire({ waitMs: 20_000, signal: ctx.signal })
          : await a!.lock(name).tryAcquire();
        check(handle !== null, `lock ${show(name)} was reported held: another name maps to the same key`);
        held.push(handle);
      }
      for (const name of names) {
        const intruder = await b!.lock(name).tryAcquire();
        if (intruder) await intruder.release();
        check(intruder === null, `lock ${show(name)} held by one client was granted to another`);
      }
      if (ctx.capabilities.counter.supported) await checkCounterNames(ctx, names, held);
    } finally {
      for (const handle of held) await handle.release().catch(() => false);
    }
    ctx.log(`${names.length} unusual names held at once, each exclusively`);

    checkInvalidInputs(ctx, a!);
    await expectRejection(
      () => a!.lock(base).acquire({ waitMs: -1 }),
      InvalidArgumentError,
      'acquire({ waitMs: -1 })',
    );
    await expectRejection(
      () => a!.lock(base).acquire({ waitMs: Number.NaN }),
      InvalidArgumentError,
      'acquire({ waitMs: NaN })',
    );
    await expectRejection(
      () => a!.lock(base).acquire({ signal: 'stop' as unknown as AbortSignal }),
      InvalidArgumentError,
      'acquire({ signal: "stop" })',
    );
    const stillFree = await b!.lock(base).tryAcquire();
    check(stillFree !== null, 'a rejected acquire left the lock held');
    await stillFree.release();
  },
};

/** Counters under the same names: distinct from each other and from the held locks. */
async function checkCounterNames(ctx: TestContext, names: readonly string[], held: readonly LockHandle[]) {
  const [c] = await ctx.clients(1);
  // Bare names are shared by every run, so their counters would accumulate: leave them out.
  const own = names.filter((name) => !BARE_NAMES.includes(name));
  for (const [index, name] of own.entries()) {
    await c!.counter(name).increment(index + 1);
  }
  for (const [index, name] of own.entries()) {
    checkEqual(
      await c!.counter(name).get(),
      index + 1,
      `counter ${show(name)} (another name shares its key?)`,
    );
  }
  for (const handle of held.slice(0, 3)) {
    checkEqual(
      await handle.isHeld(),
      true,
      `lock ${show(handle.name)} after writing the counter of the same name`,
    );
  }
}

function checkInvalidInputs(ctx: TestContext, client: import('@lockstep/core').Coordinator): void {
  const invalidNames: Array<[string, unknown]> = [
    ['the empty name', ''],
    ['a 1025-byte name', 'x'.repeat(1025)],
    ['a 1026-byte name of 2-byte characters', 'é'.repeat(513)],
    ['a lone high surrogate', 'a\ud800'],
    ['a lone low surrogate', '\udc00b'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
  ];
  for (const [what, name] of invalidNames) {
    expectThrow(() => client.lock(name as string), InvalidArgumentError, `lock(${what})`);
    if (ctx.capabilities.counter.supported) {
      expectThrow(() => client.counter(name as string), InvalidArgumentError, `counter(${what})`);
    }
  }
  const min = ctx.capabilities.lock.minTtlMs;
  const invalidTtls: unknown[] = [0, -1, 1.5, Number.NaN, '1000', Number.POSITIVE_INFINITY];
  if (min > 1) invalidTtls.push(min - 1);
  for (const ttlMs of invalidTtls) {
    expectThrow(
      () => client.lock('valid', { ttlMs: ttlMs as number }),
      InvalidArgumentError,
      `lock('valid', { ttlMs: ${show(ttlMs)} })`,
    );
  }
  expectThrow(
    () => client.lock('valid', { autoExtend: 'yes' as unknown as boolean }),
    InvalidArgumentError,
    "lock('valid', { autoExtend: 'yes' })",
  );
}
