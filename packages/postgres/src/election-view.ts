/**
 * What an observer of an election has seen, and which news is news. An observer hears of an
 * election in two ways that can cross: notifications (pushed at each commit, in commit order)
 * and reads of the election's row (after a reconnect, a too-large notification, or on the
 * periodic re-read that bounds what a lost notification could hide). A read's snapshot may be
 * older than a notification already applied, so every state carries its **revision** — the
 * token-sequence value drawn by the write that produced it (a grant, a proclaim, a resignation) —
 * and only a later revision replaces what the observer saw. A leader whose connection died
 * never wrote its vacancy: a read that finds its row leading while nobody holds the election's
 * lock reports that vacancy at the row's revision, ranked just after the row itself.
 * @module
 */

/** The leader, as the observer reports it. */
export interface LeaderState {
  readonly value: string;
  readonly term: bigint;
}

/** A state of the election and where it falls in the election's history. */
export interface ElectionNews {
  /** The leader, or `null` for a vacancy. */
  readonly leader: LeaderState | null;
  readonly revision: bigint;
  /** 1 for a vacancy inferred from a free lock (after the row's own state at that revision). */
  readonly rank: 0 | 1;
}

/** The election's row as read: absent when the election never had a leader. */
export interface ElectionRow {
  readonly term: bigint;
  readonly revision: bigint;
  readonly value: string;
  readonly vacant: boolean;
  /** The row says leading, but nobody holds the election's lock (the leader's connection ended). */
  readonly orphaned: boolean;
}

/** A row as news. */
export function newsOfRow(row: ElectionRow | undefined): ElectionNews | undefined {
  if (!row) return undefined;
  const vacant = row.vacant || row.orphaned;
  return {
    leader: vacant ? null : { value: row.value, term: row.term },
    revision: row.revision,
    rank: row.orphaned && !row.vacant ? 1 : 0,
  };
}

/**
 * A notification's payload as news: `L<term>:<revision>:<value>` (a leader or its new value),
 * `V<term>:<revision>` (a resignation), or `undefined` when the payload says to re-read (`R`:
 * the value did not fit a notification) or is not one of ours.
 */
export function newsOfPayload(payload: string): ElectionNews | undefined {
  const kind = payload[0];
  const first = payload.indexOf(':');
  const second = payload.indexOf(':', first + 1);
  if (first < 0) return undefined;
  try {
    const term = BigInt(payload.slice(1, first));
    if (kind === 'V') return { leader: null, revision: BigInt(payload.slice(first + 1)), rank: 0 };
    if (kind !== 'L' || second < 0) return undefined;
    const value = unescapeValue(payload.slice(second + 1));
    return { leader: { value, term }, revision: BigInt(payload.slice(first + 1, second)), rank: 0 };
  } catch {
    return undefined;
  }
}

/** Reports every change an observer learns of, once and in order. */
export class ElectionView {
  readonly #onChange: (leader: LeaderState | null) => void;
  #seen: { revision: bigint; rank: number } | undefined;
  #leader: LeaderState | null = null;

  constructor(onChange: (leader: LeaderState | null) => void) {
    this.#onChange = onChange;
  }

  /** The first state: reported whatever it is (`undefined`: the election never had a leader). */
  start(news: ElectionNews | undefined): void {
    this.#seen = news && { revision: news.revision, rank: news.rank };
    this.#leader = news?.leader ?? null;
    this.#onChange(this.#leader);
  }

  /** Later news: applied (and reported when the leader or its value changed) only when newer. */
  apply(news: ElectionNews | undefined): void {
    if (!news) return;
    const seen = this.#seen;
    if (
      seen &&
      (news.revision < seen.revision || (news.revision === seen.revision && news.rank <= seen.rank))
    )
      return;
    this.#seen = { revision: news.revision, rank: news.rank };
    const before = this.#leader;
    const after = news.leader;
    this.#leader = after;
    const same =
      before === null || after === null
        ? before === after
        : before.term === after.term && before.value === after.value;
    if (!same) this.#onChange(after);
  }
}

/**
 * Values are stored and notified as text, which cannot hold NUL: NUL is written `\0` and a
 * backslash `\\`, a map that is undone exactly.
 */
export function escapeValue(value: string): string {
  return value.replace(/[\\\0]/g, (c) => (c === '\\' ? '\\\\' : '\\0'));
}

/** Inverse of {@link escapeValue}. */
export function unescapeValue(text: string): string {
  return text.replace(/\\([\\0])/g, (_, c: string) => (c === '0' ? '\0' : '\\'));
}
