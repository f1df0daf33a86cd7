/** Who a semaphore admits, judged on one listing of its prefix: pure, no server. */
import { InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import type { KvEntry } from './json.js';
import { LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE } from './native.js';
import {
  admission,
  contended,
  contenderNote,
  contenderValue,
  decodeLock,
  encodeLock,
  handover,
  semaphoreView,
} from './semaphore-view.js';

const P = 'app/semaphore/exports';
const owner = (n: bigint) => n.toString(16).padStart(32, '0');

function entry(key: string, fields: Partial<Omit<KvEntry, 'key' | 'value'>> & { value?: string }): KvEntry {
  const { value = '', ...rest } = fields;
  return {
    key,
    session: '',
    flags: SEMAPHORE_FLAG_VALUE,
    lockIndex: 0n,
    createIndex: 1n,
    modifyIndex: 1n,
    ...rest,
    value: Buffer.from(value),
  };
}

/** `<P>/.lock` storing `limit` and `holders`, last written at `index`. */
const lock = (limit: number, holders: string[], index: bigint) =>
  entry(`${P}/.lock`, { value: encodeLock(limit, holders), createIndex: 1n, modifyIndex: index });

/** A lockstep contender of `session`, queued at `created` (rewritten at `modified`). */
function queued(session: string, created: bigint, permits = 3, modified = created): KvEntry {
  const value = contenderValue({ state: 'queued', ownerId: owner(created), permits });
  return entry(`${P}/${session}`, { session, value, createIndex: created, modifyIndex: modified });
}

function holding(session: string, created: bigint, modified: bigint, rank = 0, permits = 3): KvEntry {
  const value = contenderValue({ state: 'holding', ownerId: owner(created), permits, rank });
  return entry(`${P}/${session}`, { session, value, createIndex: created, modifyIndex: modified });
}

const view = (entries: KvEntry[], index = 100n) => semaphoreView(P, index, entries);
const asker = (e: KvEntry) => ({
  session: e.session,
  createIndex: e.createIndex,
  modifyIndex: e.modifyIndex,
});

describe('semaphore admission (api/semaphore.go layout, lockstep queue)', () => {
  it('admits the first contender alone, creating .lock with its Limit (CAS index 0)', () => {
    const me = queued('s1', 10n);
    const judged = admission(view([me]), asker(me), 3);
    expect(judged).toEqual({
      kind: 'admit',
      lockIndex: 0n,
      value: '{"Limit":3,"Holders":{"s1":true}}',
      others: [],
      alone: true,
    });
  });

  it('counts live holders and refuses when they fill the Limit', () => {
    const me = queued('s9', 30n);
    const holders = ['s1', 's2', 's3'].map((s, i) => holding(s, BigInt(10 + i), 20n));
    const judged = admission(view([lock(3, ['s1', 's2', 's3'], 20n), ...holders, me]), asker(me), 3);
    expect(judged.kind).toBe('full');
  });

  it('prunes holders whose session holds nothing under the prefix (a release, or a dead session)', () => {
    const me = queued('s9', 30n);
    const alive = holding('s1', 10n, 20n);
    const judged = admission(view([lock(2, ['s1', 'gone'], 20n), alive, me]), asker(me), 2);
    expect(judged).toMatchObject({
      kind: 'admit',
      lockIndex: 20n,
      value: '{"Limit":2,"Holders":{"s1":true,"s9":true}}',
    });
  });

  it('does not count a holder whose contender was created after .lock last changed (a leftover of its earlier permit)', () => {
    const me = queued('s9', 22n);
    const requeued = queued('s1', 25n); // s1 released (contender deleted) and queued again at 25
    const listing = view([lock(1, ['s1'], 20n), me, requeued]);
    // s1 is a waiter behind us now, not the holder .lock still names: the one permit is ours.
    expect(admission(listing, asker(me), 1)).toMatchObject({
      kind: 'admit',
      value: '{"Limit":1,"Holders":{"s9":true}}',
      alone: true,
    });
    expect(admission(listing, asker(requeued), 1).kind).toBe('full');
  });

  it('serves waiters in CreateIndex order, and the first one grants the others that fit, ranked', () => {
    const a = queued('sa', 11n);
    const b = queued('sb', 12n);
    const c = queued('sc', 13n);
    const listing = view([lock(3, ['h1'], 20n), holding('h1', 5n, 20n), c, a, b]);
    // Two permits free: a (first) and b fit, c does not.
    expect(admission(listing, asker(c), 3).kind).toBe('full');
    const first = admission(listing, asker(a), 3);
    expect(first).toMatchObject({ kind: 'admit', value: encodeLock(3, ['h1', 'sa', 'sb']), alone: false });
    expect(first.kind === 'admit' && first.others).toEqual([
      {
        key: `${P}/sb`,
        index: 12n,
        value: contenderValue({ state: 'holding', ownerId: owner(12n), permits: 3, rank: 1 }),
      },
    ]);
    // b, also within the free permits, would grant a likewise (one of the two CASes wins).
    expect(admission(listing, asker(b), 3)).toMatchObject({
      kind: 'admit',
      value: encodeLock(3, ['h1', 'sa', 'sb']),
    });
  });

  it("never grants on another's behalf a contender that is not lockstep's, or that declared another count", () => {
    const a = queued('sa', 11n);
    const goClient = entry(`${P}/sg`, { session: 'sg', value: 'web-1', createIndex: 12n, modifyIndex: 12n });
    const otherCount = queued('so', 13n, 2);
    const judged = admission(view([a, goClient, otherCount]), asker(a), 3);
    expect(judged).toMatchObject({ kind: 'admit', others: [], value: encodeLock(3, ['sa']) });
  });

  it('a contender whose contender was rewritten as holding, and which .lock counts, was granted (index and rank)', () => {
    const me = queued('s9', 30n);
    const rewritten = holding('s9', 30n, 41n, 2);
    expect(admission(view([lock(3, ['s9'], 41n), rewritten]), asker(me), 3)).toEqual({
      kind: 'granted',
      index: 41n,
      rank: 2,
    });
    // Not counted by .lock: not a grant (the write that rewrites a contender also writes .lock).
    expect(admission(view([lock(3, [], 41n), rewritten]), asker(me), 3).kind).toBe('admit');
  });

  it('says gone when the asker’s contender is not in the listing', () => {
    const me = queued('s9', 30n);
    expect(admission(view([lock(3, [], 20n)]), asker(me), 3)).toEqual({ kind: 'gone' });
  });

  it("refuses a client declaring another Limit while holders count, and stores the new one when none does (rule 'stored')", () => {
    const me = queued('s9', 30n, 2);
    const inUse = view([lock(3, ['s1'], 20n), holding('s1', 10n, 20n), me]);
    expect(() => admission(inUse, asker(me), 2)).toThrow(InvalidArgumentError);
    expect(() => admission(inUse, asker(me), 2)).toThrow(/in use with 3 permits.*declared 2/);
    const idle = view([lock(3, ['dead'], 20n), me]);
    expect(admission(idle, asker(me), 2)).toMatchObject({
      kind: 'admit',
      value: '{"Limit":2,"Holders":{"s9":true}}',
    });
  });

  it('refuses a prefix whose .lock is a Consul lock (ErrSemaphoreConflict)', () => {
    const taken = entry(`${P}/.lock`, { flags: LOCK_FLAG_VALUE, session: 'x' });
    expect(() => view([taken])).toThrow(/in use by a Consul lock/);
  });

  it('hands a released permit to the first lockstep waiter (rank 0), past a client of api/semaphore.go that takes its own', () => {
    const goClient = entry(`${P}/sg`, { session: 'sg', value: '', createIndex: 11n, modifyIndex: 11n });
    const a = queued('sa', 12n, 2);
    const listing = view([
      lock(2, ['r', 'h'], 20n),
      holding('r', 5n, 20n, 0, 2),
      holding('h', 6n, 20n, 0, 2),
      goClient,
      a,
    ]);
    // One permit comes free: the api/semaphore.go client is first in line and takes it itself.
    expect(handover(listing, 'r', 2)).toBeUndefined();
    const twoFree = view([lock(3, ['r'], 20n), holding('r', 5n, 20n), goClient, queued('sa', 12n)]);
    expect(handover(twoFree, 'r', 3)).toEqual({
      lockIndex: 20n,
      value: encodeLock(3, ['sa']),
      others: [
        {
          key: `${P}/sa`,
          index: 12n,
          value: contenderValue({ state: 'holding', ownerId: owner(12n), permits: 3, rank: 0 }),
        },
      ],
    });
  });

  it('hands nothing over when nobody waits, or when the releaser is not counted', () => {
    const alone = view([lock(2, ['r'], 20n), holding('r', 5n, 20n, 0, 2)]);
    expect(handover(alone, 'r', 2)).toBeUndefined();
    expect(handover(view([lock(2, [], 20n), queued('sa', 12n, 2)]), 'r', 2)).toBeUndefined();
    expect(contended(alone, 'r', 2)).toBe(false);
    expect(contended(view([lock(2, ['r'], 20n), holding('r', 5n, 20n), queued('sa', 12n)]), 'r', 2)).toBe(
      true,
    );
  });
});

describe('.lock and contender values', () => {
  it("decodes api/semaphore.go's value, Go-style (field names in any case, null holders)", () => {
    const at = (value: string) => entry(`${P}/.lock`, { value });
    expect(decodeLock(at('{"Limit":2,"Holders":{"a":true,"b":true}}'))).toEqual({
      limit: 2,
      holders: ['a', 'b'],
    });
    expect(decodeLock(at('{"limit":4,"holders":null}'))).toEqual({ limit: 4, holders: [] });
    expect(decodeLock(at(''))).toEqual({ limit: undefined, holders: [] });
    expect(decodeLock(undefined)).toEqual({ limit: undefined, holders: [] });
    for (const bad of ['nope', '[1]', '{"Limit":0}', '{"Limit":"2"}', '{"Holders":[]}']) {
      expect(() => decodeLock(at(bad)), bad).toThrow(InvalidArgumentError);
    }
  });

  it('encodes .lock as api/semaphore.go does (holders sorted, as Go sorts map keys)', () => {
    expect(encodeLock(2, ['b', 'a'])).toBe('{"Limit":2,"Holders":{"a":true,"b":true}}');
  });

  it('reads back its own contender notes and nobody else’s values', () => {
    const note = { state: 'holding', ownerId: owner(7n), permits: 5, rank: 3 } as const;
    expect(contenderNote(entry('k', { value: contenderValue(note) }))).toEqual(note);
    expect(contenderNote(entry('k', { value: `queued ${owner(7n)} 5` }))).toEqual({
      state: 'queued',
      ownerId: owner(7n),
      permits: 5,
    });
    for (const other of ['', 'web-1', `queued ${owner(7n)} 5 1`, `holding ${owner(7n)} 5`, 'queued x 5']) {
      expect(contenderNote(entry('k', { value: other })), other).toBeUndefined();
    }
  });
});
