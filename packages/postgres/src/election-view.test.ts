/**
 * The observer's ordering rules, without a server: news from reads and notifications that
 * cross never undo each other, and every change is reported once.
 */
import { describe, expect, it } from 'vitest';
import {
  type ElectionNews,
  ElectionView,
  escapeValue,
  type LeaderState,
  newsOfPayload,
  newsOfRow,
  unescapeValue,
} from './election-view.js';

const leader = (term: number, revision: number, value: string): ElectionNews => ({
  leader: { value, term: BigInt(term) },
  revision: BigInt(revision),
  rank: 0,
});
const vacancy = (revision: number, rank: 0 | 1 = 0): ElectionNews => ({
  leader: null,
  revision: BigInt(revision),
  rank,
});

function observed(): { view: ElectionView; seen: string[] } {
  const seen: string[] = [];
  const view = new ElectionView((l: LeaderState | null) => seen.push(l ? `${l.value}@${l.term}` : 'none'));
  return { view, seen };
}

describe('ElectionView', () => {
  it('reports the first state whatever it is, then only changes', () => {
    const { view, seen } = observed();
    view.start(undefined);
    view.apply(leader(5, 5, 'a'));
    view.apply(leader(5, 5, 'a'));
    view.apply(leader(5, 7, 'a2'));
    view.apply(vacancy(8));
    view.apply(vacancy(8, 1));
    view.apply(leader(9, 9, 'b'));
    expect(seen).toEqual(['none', 'a@5', 'a2@5', 'none', 'b@9']);
  });

  it('ignores a read older than what a notification already said', () => {
    const { view, seen } = observed();
    view.start(leader(5, 5, 'a'));
    view.apply(leader(5, 7, 'a2')); // notified proclaim
    view.apply(leader(5, 5, 'a')); // a read whose snapshot predates it
    view.apply(vacancy(8)); // notified resignation
    view.apply(leader(5, 7, 'a2')); // a stale read again
    view.apply(leader(9, 9, 'b'));
    view.apply(vacancy(8)); // the resignation's notification, committed after the next grant
    expect(seen).toEqual(['a@5', 'a2@5', 'none', 'b@9']);
  });

  it('reports a leader that died without resigning once, and the next leader after it', () => {
    const { view, seen } = observed();
    view.start(leader(5, 6, 'a'));
    view.apply(vacancy(6, 1)); // read: the row says leading, nobody holds the lock
    view.apply(leader(5, 6, 'a')); // a read that still saw the lock held
    view.apply(leader(9, 9, 'b'));
    expect(seen).toEqual(['a@5', 'none', 'b@9']);
  });
});

describe('rows and payloads', () => {
  it('reads a row that says leading while the lock is free as a vacancy ranked after the row', () => {
    const row = { term: 5n, revision: 6n, value: 'a', vacant: false, orphaned: true };
    expect(newsOfRow(row)).toEqual({ leader: null, revision: 6n, rank: 1 });
    expect(newsOfRow({ ...row, orphaned: false })).toEqual(leader(5, 6, 'a'));
    expect(newsOfRow({ ...row, vacant: true, orphaned: false })).toEqual(vacancy(6));
    expect(newsOfRow(undefined)).toBeUndefined();
  });

  it('parses leader, vacancy and re-read payloads, values with colons and escapes included', () => {
    expect(newsOfPayload('L12:15:host:8080')).toEqual(leader(12, 15, 'host:8080'));
    expect(newsOfPayload(`L3:3:${escapeValue('a\0b\\c')}`)).toEqual(leader(3, 3, 'a\0b\\c'));
    expect(newsOfPayload('V12:20')).toEqual(vacancy(20));
    expect(newsOfPayload('R')).toBeUndefined();
    expect(newsOfPayload('Lnope:1:x')).toBeUndefined();
  });

  it('escapes NUL and backslash reversibly', () => {
    for (const value of ['', 'plain', '\\0', '\0', 'a\\\\0b\0\0', '\\']) {
      expect(escapeValue(value)).not.toContain('\0');
      expect(unescapeValue(escapeValue(value))).toBe(value);
    }
    expect(escapeValue('\\0')).not.toBe(escapeValue('\0'));
  });
});
