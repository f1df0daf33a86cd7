import { describe, expect, it } from 'vitest';
import { InvalidHistoryError } from './errors.js';
import { checkMutex, type HoldInterval, MutexMonitor, type MutexViolation } from './mutex.js';

const hold = (client: string, acquiredAt: number, releasedAt: number, fencingToken?: bigint): HoldInterval =>
  fencingToken === undefined
    ? { client, acquiredAt, releasedAt }
    : { client, acquiredAt, releasedAt, fencingToken };

describe('checkMutex: good histories', () => {
  it('accepts sequential holds with increasing tokens, given in any order', () => {
    const holds = [hold('b', 10, 20, 2n), hold('a', 0, 5, 1n), hold('c', 25, 30, 7n)];
    const result = checkMutex(holds);
    expect(result).toMatchObject({ ok: true, overlapCount: 0, maxConcurrent: 1, grants: 3 });
    expect(result.overlaps).toEqual([]);
    expect(result.tokenViolations).toEqual([]);
  });

  it('accepts touching intervals and instantaneous holds at a boundary', () => {
    const holds = [hold('a', 0, 10, 1n), hold('b', 10, 20, 2n), hold('c', 20, 20, 3n), hold('d', 20, 30, 4n)];
    expect(checkMutex(holds)).toMatchObject({ ok: true, maxConcurrent: 1 });
  });

  it('accepts holds without tokens (fencing: none) and an empty history', () => {
    expect(checkMutex([hold('a', 0, 1), hold('b', 2, 3)]).ok).toBe(true);
    expect(checkMutex([])).toMatchObject({ ok: true, maxConcurrent: 0, grants: 0 });
  });

  it('checks tokens only where present', () => {
    expect(checkMutex([hold('a', 0, 1, 5n), hold('b', 2, 3), hold('c', 4, 5, 6n)]).ok).toBe(true);
  });
});

describe('checkMutex: bad histories', () => {
  it('reports an overlap as the [earlier, later] pair', () => {
    const a = hold('a', 0, 10, 1n);
    const b = hold('b', 9, 15, 2n);
    const result = checkMutex([b, a]);
    expect(result.ok).toBe(false);
    expect(result.overlaps).toEqual([[a, b]]);
    expect(result.overlapCount).toBe(1);
    expect(result.maxConcurrent).toBe(2);
  });

  it('sees an instantaneous hold strictly inside another', () => {
    const result = checkMutex([hold('a', 0, 10), hold('b', 5, 5)]);
    expect(result.ok).toBe(false);
    expect(result.overlapCount).toBe(1);
  });

  it('counts the largest group of simultaneous holders', () => {
    const holds = [
      hold('a', 0, 100),
      hold('b', 10, 20),
      hold('c', 15, 30),
      hold('d', 40, 50),
      hold('e', 60, 70),
    ];
    const result = checkMutex(holds);
    expect(result.maxConcurrent).toBe(3);
    // a-b, a-c, b-c, a-d, a-e
    expect(result.overlapCount).toBe(5);
  });

  it('reports equal tokens', () => {
    const first = hold('a', 0, 1, 4n);
    const second = hold('b', 2, 3, 4n);
    const result = checkMutex([first, second]);
    expect(result.ok).toBe(false);
    expect(result.overlapCount).toBe(0);
    expect(result.tokenViolations).toEqual([{ kind: 'equal', earlier: first, later: second }]);
  });

  it('reports decreasing tokens against the highest earlier token, not just the previous one', () => {
    const holds = [hold('a', 0, 1, 1n), hold('b', 2, 3, 5n), hold('c', 4, 5, 3n), hold('d', 6, 7, 4n)];
    const result = checkMutex(holds);
    expect(result.ok).toBe(false);
    expect(result.tokenViolations.map((v) => [v.kind, v.earlier.client, v.later.client])).toEqual([
      ['decreasing', 'b', 'c'],
      ['decreasing', 'b', 'd'],
    ]);
  });

  it('caps the listed violations but counts them all', () => {
    const holds = Array.from({ length: 10 }, (_, i) => hold(`c${i}`, i, 100, 1n));
    const result = checkMutex(holds, { maxReported: 3 });
    expect(result.overlaps).toHaveLength(3);
    expect(result.overlapCount).toBe(45);
    expect(result.tokenViolations).toHaveLength(3);
    expect(result.maxConcurrent).toBe(10);
  });

  it('rejects malformed holds with a typed error naming the entry', () => {
    expect(() => checkMutex([hold('a', 0, 1), hold('b', 5, 4)])).toThrow(InvalidHistoryError);
    expect(() => checkMutex([hold('a', Number.NaN, 1)])).toThrow(/entry 0/);
    expect(() => checkMutex([hold('', 0, 1)])).toThrow(InvalidHistoryError);
    expect(() =>
      checkMutex([{ client: 'a', acquiredAt: 0, releasedAt: 1, fencingToken: 1 as never }]),
    ).toThrow(/bigint/);
  });
});

describe('MutexMonitor', () => {
  function fakeClock() {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  }

  it('accepts strictly alternating holders and records their intervals', () => {
    const clock = fakeClock();
    const monitor = new MutexMonitor({ now: clock.now });
    for (let i = 0; i < 5; i++) {
      expect(monitor.enter(`c${i % 2}`, BigInt(i + 1))).toBe(true);
      clock.advance(2);
      monitor.exit(`c${i % 2}`);
      clock.advance(1);
    }
    expect(monitor.ok).toBe(true);
    expect(monitor.maxConcurrent).toBe(1);
    expect(monitor.grants).toBe(5);
    expect(monitor.intervals()[1]).toEqual({ client: 'c1', acquiredAt: 3, releasedAt: 5, fencingToken: 2n });
    expect(monitor.result()).toMatchObject({ ok: true, grants: 5, maxConcurrent: 1 });
  });

  it('detects a second holder the moment it enters', () => {
    const seen: MutexViolation[] = [];
    const monitor = new MutexMonitor({ onViolation: (v) => seen.push(v) });
    expect(monitor.enter('a', 1n)).toBe(true);
    expect(seen).toHaveLength(0);
    expect(monitor.enter('b', 2n)).toBe(false);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: 'concurrent-holders', client: 'b', otherHolders: ['a'] });
    expect(monitor.holders.sort()).toEqual(['a', 'b']);
    monitor.exit('a');
    monitor.exit('b');
    expect(monitor.ok).toBe(false);
    expect(monitor.maxConcurrent).toBe(2);
    expect(monitor.result().ok).toBe(false);
  });

  it('treats the same client entering twice as two holders (locks are not reentrant)', () => {
    const monitor = new MutexMonitor();
    monitor.enter('a');
    expect(monitor.enter('a')).toBe(false);
    expect(monitor.holders).toEqual(['a', 'a']);
    monitor.exit('a');
    monitor.exit('a');
    expect(monitor.holders).toEqual([]);
  });

  it('flags a token that does not increase, even without overlap', () => {
    const monitor = new MutexMonitor();
    monitor.enter('a', 7n);
    monitor.exit('a');
    expect(monitor.enter('b', 7n)).toBe(false);
    expect(monitor.violations[0]).toMatchObject({ kind: 'token-not-increasing', highestEarlierToken: 7n });
    monitor.exit('b');
    expect(monitor.result().tokenViolations).toHaveLength(1);
  });

  it('stays consistent when onViolation throws (a failing assertion)', () => {
    const monitor = new MutexMonitor({
      onViolation: () => {
        throw new Error('two holders');
      },
    });
    monitor.enter('a');
    expect(() => monitor.enter('b')).toThrow('two holders');
    monitor.exit('b');
    monitor.exit('a');
    expect(monitor.violationCount).toBe(1);
    expect(monitor.intervals()).toHaveLength(2);
  });

  it('rejects exit without enter and bad arguments', () => {
    const monitor = new MutexMonitor();
    expect(() => monitor.exit('ghost')).toThrow(InvalidHistoryError);
    expect(() => monitor.enter('')).toThrow(InvalidHistoryError);
    expect(() => monitor.enter('a', 3 as never)).toThrow(InvalidHistoryError);
    expect(monitor.grants).toBe(0);
  });

  it('catches a real race between async clients sharing a broken "lock"', async () => {
    const monitor = new MutexMonitor();
    let held = false;
    // A deliberately broken lock: checks, then yields before taking it.
    const brokenAcquire = async () => {
      while (held) await new Promise((resolve) => setImmediate(resolve));
      await Promise.resolve();
      held = true;
    };
    await Promise.all(
      ['a', 'b', 'c'].map(async (client) => {
        await brokenAcquire();
        monitor.enter(client);
        await new Promise((resolve) => setImmediate(resolve));
        monitor.exit(client);
        held = false;
      }),
    );
    expect(monitor.ok).toBe(false);
    expect(monitor.maxConcurrent).toBeGreaterThan(1);
  });
});
