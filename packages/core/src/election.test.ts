import { describe, expect, it } from 'vitest';
import { LockLostError } from './errors.js';
import { connectMemory } from './memory/index.js';
import type { LeaderInfo } from './types.js';

describe('elections (memory://)', () => {
  it('one leader at a time; terms increase; resign hands over; leader() tells who', async () => {
    const a = connectMemory('election-basic');
    const b = connectMemory('election-basic');
    expect(await a.election('e').leader()).toBeNull();
    const first = await a.election('e').campaign({ value: 'node-a' });
    expect(first.state).toBe('leading');
    expect(await b.election('e').leader()).toEqual({ value: 'node-a', term: first.term });
    const second = b.election('e').campaign({ value: 'node-b' });
    expect(await first.resign()).toBe(true);
    const next = await second;
    expect(next.term).toBeGreaterThan(first.term);
    expect(first.state).toBe('resigned');
    expect(await a.election('e').leader()).toEqual({ value: 'node-b', term: next.term });
    await next.resign();
    await a.close();
    await b.close();
  });

  it('observers see every change in order, vacancies included; proclaim by a deposed leader rejects', async () => {
    const coord = connectMemory('election-observe');
    const stop = new AbortController();
    const seen: Array<LeaderInfo | null> = [];
    const watching = (async () => {
      for await (const leader of coord.election('e').observe({ signal: stop.signal })) seen.push(leader);
    })();
    const lead = await coord.election('e', { ttlMs: 40 }).campaign({ value: 'v1' });
    await lead.proclaim('v2');
    await lead.resign();
    const again = await coord.election('e', { ttlMs: 40 }).campaign({ value: 'v3' });
    for (let waited = 0; seen.length < 5 && waited < 2_000; waited += 5)
      await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await watching;
    expect(seen).toEqual([
      null,
      { value: 'v1', term: lead.term },
      { value: 'v2', term: lead.term },
      null,
      { value: 'v3', term: again.term },
    ]);
    await expect(lead.proclaim('late')).rejects.toBeInstanceOf(LockLostError);
    await again.resign();
    await coord.close();
  });

  it('run() leads, runs the work, and campaigns again after it ends, until stopped', async () => {
    const coord = connectMemory('election-run');
    const stop = new AbortController();
    const terms: bigint[] = [];
    await coord.election('e').run(
      async (leadership) => {
        terms.push(leadership.term);
        if (terms.length === 3) stop.abort();
      },
      { value: 'worker', signal: stop.signal },
    );
    expect(terms).toHaveLength(3);
    expect(terms[2]! > terms[1]! && terms[1]! > terms[0]!).toBe(true);
    expect(await coord.election('e').leader()).toBeNull();
    await coord.close();
  });
});
