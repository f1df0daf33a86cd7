import { describe, expect, it } from 'vitest';
import { collectQuorum, driftMs, quorumFreeInMs, quorumOf } from './quorum.js';

const never = <T>() => new Promise<T>(() => {});

describe('Redlock arithmetic', () => {
  it('needs a strict majority', () => {
    expect([1, 2, 3, 4, 5].map(quorumOf)).toEqual([1, 2, 2, 3, 3]);
  });

  it('allows 1% of the lease plus 2 ms of drift, rounded up', () => {
    expect(driftMs(10_000, 0.01)).toBe(102);
    expect(driftMs(150, 0.01)).toBe(4);
    expect(driftMs(1_000, 0)).toBe(2);
  });

  it('decides yes as soon as a quorum agreed, without waiting for a silent instance', async () => {
    const round = await collectQuorum(
      [Promise.resolve(true), Promise.resolve(true), never<boolean>()],
      2,
      (x) => x,
    );
    expect(round).toMatchObject({ decision: 'yes', pending: 1, errors: [] });
  });

  it('decides no once the rest could not make a quorum', async () => {
    const round = await collectQuorum(
      [Promise.resolve(false), Promise.resolve(false), never<boolean>()],
      2,
      (x) => x,
    );
    expect(round).toMatchObject({ decision: 'no', pending: 1 });
  });

  it('is unreachable when too many instances fail to answer at all', async () => {
    const boom = Promise.reject(new Error('down'));
    const round = await collectQuorum(
      [boom, Promise.reject(new Error('down')), Promise.resolve(true)],
      2,
      (x) => x,
    );
    expect(round.decision).toBe('unreachable');
    expect(round.errors).toHaveLength(2);
  });

  it('one failed instance of three is tolerated', async () => {
    const round = await collectQuorum(
      [Promise.reject(new Error('down')), Promise.resolve(true), Promise.resolve(true)],
      2,
      (x) => x,
    );
    expect(round.decision).toBe('yes');
  });

  it('computes when a quorum of holders could be free', () => {
    // 3 instances, quorum 2: both refusals expire at 300 and 900 ms; none free now.
    expect(quorumFreeInMs([900, 300], 3, 1, 2)).toBe(900);
    // one instance free now: the first refusal to expire is enough.
    expect(quorumFreeInMs([900, 300], 3, 0, 2)).toBe(300);
    // already enough free instances: no bound from leases.
    expect(quorumFreeInMs([900], 3, 0, 2)).toBeUndefined();
    // a holder with no expiry never frees its instance.
    expect(quorumFreeInMs([-1, 500], 3, 1, 2)).toBeUndefined();
  });
});
