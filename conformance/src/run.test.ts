/**
 * The runner itself: selection, skips with reasons, setup failures, and — the point of a
 * conformance suite — that each flaw of a deliberately broken adapter fails the test that
 * guards against it, while the flawless variant passes the same tests.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import type { Flaw } from './fixtures/flawed-adapter.js';
import './fixtures/flawed-adapter.js';
import { leaseTtlFor, runConformance } from './run.js';
import { TEST_IDS, type TestResult } from './suite/types.js';
import type { ConformanceTarget } from './target.js';

const fixture = fileURLToPath(new URL('./fixtures/flawed-adapter.ts', import.meta.url));

function flawed(flaw: Flaw): ConformanceTarget {
  const url = `flawed://${flaw}/${randomBytes(4).toString('hex')}`;
  return {
    name: 'memory',
    source: 'embedded',
    url,
    adapterModule: fixture,
    inProcess: true,
    ttlMs: 200,
    connect: (override) => connect(override ?? url),
  };
}

function byId(results: readonly TestResult[]): Record<string, TestResult> {
  return Object.fromEntries(results.map((r) => [r.id, r]));
}

describe('runConformance', () => {
  it('reports every test id once, in order, with a reason on every skip', async () => {
    const results = await runConformance(flawed('none'), { only: ['lock.try', 'backend.unavailable'] });
    expect(results.map((r) => r.id)).toEqual([...TEST_IDS]);
    const found = byId(results);
    expect(found['lock.try']!.status).toBe('pass');
    expect(found['backend.unavailable']).toMatchObject({
      status: 'skip',
      reason: expect.stringContaining('flawed://'),
    });
    expect(found['lock.exclusive']).toMatchObject({
      status: 'skip',
      reason: expect.stringContaining('not selected'),
    });
    for (const result of results) if (result.status === 'skip') expect(result.reason).toBeTruthy();
  });

  it('uses configured skip reasons and rejects unknown ids', async () => {
    const results = await runConformance(flawed('none'), {
      only: ['lock.try'],
      skip: { 'lock.try': 'known limitation of this deployment' },
    });
    expect(byId(results)['lock.try']).toMatchObject({
      status: 'skip',
      reason: 'known limitation of this deployment',
    });
    await expect(runConformance(flawed('none'), { only: ['lock.nope'] })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('fails every selected test with the reason when the target cannot connect', async () => {
    const broken: ConformanceTarget = {
      ...flawed('none'),
      connect: async () => {
        throw new Error('connection refused (test)');
      },
    };
    const results = byId(await runConformance(broken, { only: ['lock.try'] }));
    expect(results['lock.try']).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('connection refused'),
    });
    expect(results['lock.exclusive']!.status).toBe('skip');
  });

  it('refuses a ttl below the backend minimum', () => {
    const caps = {
      lock: {
        fencing: 'monotonic',
        lease: 'per-lock',
        minTtlMs: 500,
        ttlGranularityMs: 100,
        waiting: 'notify',
        fairness: 'none',
        faultTolerance: 'single-node',
      },
      counter: { supported: true, bounds: true },
    } as const;
    expect(() => leaseTtlFor({ ...flawed('none'), ttlMs: 100 }, caps)).toThrow(InvalidArgumentError);
    expect(leaseTtlFor({ ...flawed('none'), ttlMs: undefined }, caps)).toBe(1000);
    expect(leaseTtlFor({ ...flawed('none'), ttlMs: 550 }, caps)).toBe(600);
  });
});

describe('the suite catches broken adapters', () => {
  const guarded: Array<[Flaw, string[], RegExp]> = [
    ['no-exclusion', ['lock.exclusive', 'lock.try'], /two holders|got a lock that was held/],
    ['silent-notify', ['lock.handoff'], /notifications are not reaching waiters/],
    [
      'racy-counter',
      ['counter.atomic', 'counter.linearizable'],
      /value after concurrent increments|not linearizable/,
    ],
    ['constant-token', ['lock.fencing'], /is not larger than/],
    ['leaky-close', ['backend.close'], /keeps the event loop alive/],
  ];

  for (const [flaw, ids, message] of guarded) {
    it(`${flaw}: ${ids.join(', ')} fail`, async () => {
      const results = byId(await runConformance(flawed(flaw), { only: ids }));
      for (const id of ids) {
        expect(results[id], id).toMatchObject({ status: 'fail', reason: expect.stringMatching(message) });
      }
    });
  }

  it('the flawless variant passes the same tests', async () => {
    const ids = [...new Set(guarded.flatMap(([, tests]) => tests))];
    const results = byId(await runConformance(flawed('none'), { only: ids }));
    for (const id of ids)
      expect(results[id], `${id}: ${results[id]!.reason}`).toMatchObject({ status: 'pass' });
  });
});
