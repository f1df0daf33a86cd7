/**
 * Elections on file://, across processes: a SIGKILLed leader's place goes to the next candidate
 * (and observers see the vacancy) as soon as its pid is gone, a leader in another process
 * proclaims to observers here, candidates lead in arrival order, and a leader stalled past its
 * lease does not come back.
 */
import { existsSync } from 'node:fs';
import { type LeaderInfo, LockLostError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { queueArrivals } from './test-support/arrivals.js';
import { eventually, fileOf, killed, startHolder, ticketsOf } from './test-support/children.js';
import { scratchDirectory } from './test-support/scratch.js';

const { dir, coordinator } = scratchDirectory('election');

/** A contender process that leads `name` with `value` (lease 30 s) until killed, once it leads. */
const leadingProcess = (name: string, value: string) =>
  startHolder({ dir, name, ttlMs: 30_000, electionValue: value });

/**
 * Observes `name` from a new coordinator until `signal` aborts, recording every state reported;
 * resolves once the first one arrived.
 */
async function observing(name: string, signal: AbortSignal): Promise<Array<LeaderInfo | null>> {
  const seen: Array<LeaderInfo | null> = [];
  void (async () => {
    for await (const leader of coordinator().election(name).observe({ signal })) seen.push(leader);
  })();
  await eventually('the first observation', () => seen.length === 1);
  return seen;
}

const show = (list: ReadonlyArray<LeaderInfo | null>) =>
  list.map((l) => (l ? `${l.value}@${l.term}` : 'none')).join(' → ');

describe('file:// elections', () => {
  it("a SIGKILLed leader's place goes to the next candidate at once, long before its lease ends", async () => {
    const name = 'failover';
    const child = await leadingProcess(name, 'child');
    const stop = new AbortController();
    const seen = await observing(name, stop.signal);
    const campaign = coordinator().election(name).campaign({ value: 'parent', waitMs: 10_000 });
    await eventually('the candidate ticket', () => ticketsOf(dir, name, 'election').length === 1);

    await killed(child);
    const killedAt = performance.now();
    const leadership = await campaign;
    // The dead leader's lease runs for 30 s: only its pid gone can have let the candidate in.
    expect(performance.now() - killedAt).toBeLessThan(10_000);
    expect(leadership.term).toBeGreaterThan(child.token);
    await eventually('the new leader observed', () => seen.at(-1)?.value === 'parent');
    // An observer that sees the dead pid before the candidate does reports the vacancy between.
    const dead = { value: 'child', term: child.token };
    const parent = { value: 'parent', term: leadership.term };
    expect([show([dead, parent]), show([dead, null, parent])]).toContain(show(seen));
    stop.abort();
    await leadership.resign();
  });

  it("observers see the vacancy as soon as a SIGKILLed leader's pid is gone", async () => {
    const name = 'vacancy';
    const child = await leadingProcess(name, 'child');
    const stop = new AbortController();
    const seen = await observing(name, stop.signal);
    await killed(child);
    await eventually('the vacancy', () => seen.length === 2);
    expect(show(seen)).toBe(show([{ value: 'child', term: child.token }, null]));
    expect(await coordinator().election(name).leader()).toBeNull();
    stop.abort();
  });

  it('a leader in another process proclaims to observers here, in order, with its term', async () => {
    const name = 'proclaim-across';
    const child = await leadingProcess(name, 'v1');
    const stop = new AbortController();
    const seen = await observing(name, stop.signal);
    child.send('proclaim:v2');
    expect((await child.next('proclaimed')).ok).toBe(true);
    await eventually('the proclaimed value', () => seen.length === 2);
    child.send('proclaim:v3');
    expect((await child.next('proclaimed', 1)).ok).toBe(true);
    await eventually('the next proclaimed value', () => seen.length === 3);
    const term = child.token;
    expect(show(seen)).toBe(
      show([
        { value: 'v1', term },
        { value: 'v2', term },
        { value: 'v3', term },
      ]),
    );
    expect(await coordinator().election(name).leader()).toEqual({ value: 'v3', term });
    stop.abort();
  });

  it('candidates lead in arrival order across coordinators and processes', async () => {
    const name = 'arrival';
    const first = await coordinator().election(name).campaign({ value: 'first' });
    const arrivals = ['A', 'p1', 'B', 'p2', 'C'];
    const leadOrder = await queueArrivals({ dir, name, election: true, labels: arrivals, coordinator });
    await first.resign();
    expect(await leadOrder()).toEqual(arrivals);
  });

  it('a leader stalled past its lease, with nobody waiting, does not come back: its renewal is refused', async () => {
    const name = 'stalled';
    const election = coordinator().election(name, { ttlMs: 150 });
    const leadership = await election.campaign({ value: 'stalled' });
    // A stalled event loop: when it turns again the lease is over, and the renewal (due first)
    // reaches the record before the handle's own expiry timer. Nobody took the place meanwhile,
    // but observers and leader() already said nobody leads: the old term must not resume.
    const stalledUntil = performance.now() + 300;
    while (performance.now() < stalledUntil) {}
    const lost = await Promise.race([
      new Promise<boolean>((resolve) =>
        leadership.signal.addEventListener('abort', () => resolve(true), { once: true }),
      ),
      // A safety bound only: the abort comes with the refused renewal, within a turn or two.
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
    ]);
    expect(lost, 'the stalled leadership was still held after its lease').toBe(true);
    expect(await election.leader()).toBeNull();
    await expect(leadership.proclaim('late')).rejects.toBeInstanceOf(LockLostError);
  });

  it('leader() and observe() of an election never used create nothing', async () => {
    const name = 'never-used';
    const election = coordinator().election(name);
    expect(await election.leader()).toBeNull();
    const stop = new AbortController();
    const seen = await observing(name, stop.signal);
    expect(seen).toEqual([null]);
    stop.abort();
    expect(existsSync(fileOf(dir, name, 'election'))).toBe(false);
  });
});
