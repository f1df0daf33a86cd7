/**
 * A semaphore as one read of its prefix shows it, and who may be admitted — the rules of
 * hashicorp/consul `api/semaphore.go`, plus a queue:
 *
 * - `<prefix>/.lock` holds `{ Limit, Holders }` (Holders: session ID → true) and carries the
 *   semaphore flag; every admission is a CAS on its ModifyIndex, so two contenders can never both
 *   take the last permit: one CAS wins, the other reads again.
 * - A holder counts only while its session holds some key under the prefix (its contender
 *   `<prefix>/<session>`). Holders whose session is gone are pruned by the next admission, so a
 *   crashed holder's permit comes back when Consul invalidates its session, and deleting one's own
 *   contender is a complete release.
 * - A holder whose contender was created after `.lock` last changed cannot have been admitted by
 *   that contender: it is a leftover of an earlier permit of the same session, whose contender was
 *   deleted and created again before anyone pruned it. It is pruned too, so a session that releases
 *   and queues again is counted as a waiter, not as a holder.
 * - The Limit is stored with the semaphore while it is in use. A client declaring another one is
 *   refused while any holder counts (api/semaphore.go refuses it always); with no holder left, the
 *   next admission stores its own.
 * - Waiters are the contenders that are not holders, in order of their CreateIndex. A contender is
 *   admitted only while the holders plus the waiters ahead of it are fewer than the Limit, so
 *   lockstep clients are served in arrival order and a newcomer never takes a permit a waiter is
 *   owed. (api/semaphore.go clients do not queue: they take any free permit.)
 * - A lockstep contender's value says what it is (`queued`, or `holding` and the rank of its grant;
 *   its attempt's owner id; the count it declared), so that others may grant it: a contender's
 *   admitting CAS also grants the lockstep waiters that fit in the free permits with it, and a
 *   releasing holder grants the first waiter in its release — either by rewriting the waiter's
 *   contender as `holding` (a CAS on its ModifyIndex) in the same transaction as `.lock`. The
 *   waiter learns it from the prefix's blocking query, with no request of its own: free permits are
 *   handed out by one write instead of one CAS race each, and a permit changes hands in one write
 *   instead of a release, a wake-up and a CAS.
 *
 * Pure functions, no I/O.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import type { KvEntry } from './json.js';
import { contenderKey, semaphoreLockKey } from './keys.js';
import { assertSemaphoreUse } from './native.js';

/** One consistent read of everything under a semaphore's prefix. */
export interface SemaphoreView {
  /** The index the read reflects (its `X-Consul-Index`, or the transaction's own index). */
  readonly index: bigint;
  /** `<prefix>/.lock`, when it exists. */
  readonly lock: KvEntry | undefined;
  /** The Limit and holders `.lock` stores (none when it does not exist or is empty). */
  readonly stored: StoredLock;
  /** Contenders by session: entries `<prefix>/<session>` held by that session. */
  readonly contenders: ReadonlyMap<string, KvEntry>;
  /** Every session holding any key under the prefix (api/semaphore.go's "alive" set). */
  readonly alive: ReadonlySet<string>;
}

/** What `.lock` stores. */
export interface StoredLock {
  readonly limit: number | undefined;
  readonly holders: readonly string[];
}

/** A contender's key rewritten as holding, by the write that grants it (a CAS on its ModifyIndex). */
export interface ContenderGrant {
  readonly key: string;
  readonly index: bigint;
  readonly value: string;
}

/** The write that grants permits: a CAS on `.lock`, and the other contenders it grants. */
export interface GrantWrite {
  /** ModifyIndex of `.lock` the CAS is guarded by (0: create it, it does not exist). */
  readonly lockIndex: bigint;
  /** The new `.lock` value. */
  readonly value: string;
  /** Lockstep waiters granted by the same write, ranked 1, 2, … (the writer itself is 0). */
  readonly others: readonly ContenderGrant[];
}

/** Whether a contender may take a permit now, and how. */
export type Admission =
  /** A permit is free for the asker: it writes `.lock`, granting the waiters that fit with it. */
  | (GrantWrite & {
      readonly kind: 'admit';
      /** No other holder counts and nobody else is granted: `.lock` counts only the asker. */
      readonly alone: boolean;
    })
  /** Another contender's write granted the asker its permit, at `index` with `rank`. */
  | { readonly kind: 'granted'; readonly index: bigint; readonly rank: number }
  | { readonly kind: 'full' }
  /** The asker's own contender is gone (its session ended, or someone deleted it). */
  | { readonly kind: 'gone' };

/** Who asks: its session, and its contender's CreateIndex and ModifyIndex as it queued it. */
export interface Asker {
  readonly session: string;
  readonly createIndex: bigint;
  readonly modifyIndex: bigint;
}

/** What a lockstep contender's value says: it waits, or it holds (granted at some rank). */
export type ContenderNote =
  | { readonly state: 'queued'; readonly ownerId: string; readonly permits: number }
  | { readonly state: 'holding'; readonly ownerId: string; readonly permits: number; readonly rank: number };

/** The value lockstep writes in its contender: `queued <owner> <permits>` or `holding … <rank>`. */
export function contenderValue(note: ContenderNote): string {
  const base = `${note.state} ${note.ownerId} ${note.permits}`;
  return note.state === 'holding' ? `${base} ${note.rank}` : base;
}

const NOTE = /^(queued|holding) ([0-9a-f]{32}) ([1-9][0-9]{0,15})(?: (0|[1-9][0-9]{0,15}))?$/;

/** The note of a lockstep contender; `undefined` for anyone else's (api/semaphore.go's value). */
export function contenderNote(entry: KvEntry): ContenderNote | undefined {
  const match = NOTE.exec(entry.value.toString());
  if (!match) return undefined;
  const [, state, ownerId, permits, rank] = match as unknown as [string, string, string, string, string?];
  if (state === 'queued' && rank === undefined) return { state, ownerId, permits: Number(permits) };
  if (state === 'holding' && rank !== undefined)
    return { state, ownerId, permits: Number(permits), rank: Number(rank) };
  return undefined;
}

/**
 * Reads the entries of `<prefix>/` (as listed, or as a transaction's `get-tree` returned them).
 * @throws InvalidArgumentError when `.lock` is not a semaphore's (another recipe's key, or a value
 *   api/semaphore.go could not decode either).
 */
export function semaphoreView(prefix: string, index: bigint, entries: readonly KvEntry[]): SemaphoreView {
  const lockKey = semaphoreLockKey(prefix);
  let lock: KvEntry | undefined;
  const contenders = new Map<string, KvEntry>();
  const alive = new Set<string>();
  for (const entry of entries) {
    if (entry.key === lockKey) lock = entry;
    if (entry.session === '') continue;
    alive.add(entry.session);
    if (entry.key === contenderKey(prefix, entry.session)) contenders.set(entry.session, entry);
  }
  assertSemaphoreUse(lock);
  return { index, lock, stored: decodeLock(lock), contenders, alive };
}

/**
 * Whether `asker` may take a permit of a semaphore of `permits` (see the module comment).
 * @throws InvalidArgumentError when the semaphore is in use with another Limit.
 */
export function admission(view: SemaphoreView, asker: Asker, permits: number): Admission {
  const own = view.contenders.get(asker.session);
  if (!own) return { kind: 'gone' };
  const note = contenderNote(own);
  if (note?.state === 'holding' && own.modifyIndex !== asker.modifyIndex) {
    // Rewritten by another's granting write, which put us in `.lock` in the same transaction.
    if (view.stored.holders.includes(asker.session))
      return { kind: 'granted', index: own.modifyIndex, rank: note.rank };
  }
  const { holders, queue, free } = standing(view, asker.session, permits);
  const ahead = queue.filter((entry) => before(entry, asker)).length;
  if (ahead >= free) return { kind: 'full' };
  const others = admissible(queue.slice(0, free - 1), permits);
  return {
    kind: 'admit',
    ...grantWrite(view, permits, holders, [asker.session], others, 1),
    alone: holders.size === 0 && others.length === 0,
  };
}

/**
 * The write that takes `session` out of `.lock` when it is only a leftover there (an earlier
 * permit of the session, released by deleting its contender, which queues again now): lockstep
 * does not count it, but api/semaphore.go counts every holder whose session holds any key under
 * the prefix, so until it is gone Go clients would see a slot taken that nobody holds — and wait
 * behind a lockstep waiter that waits behind them. `undefined` when there is nothing to take out.
 */
export function leftoverPrune(
  view: SemaphoreView,
  session: string,
): { readonly lockIndex: bigint; readonly value: string } | undefined {
  const own = view.contenders.get(session);
  const { limit, holders } = view.stored;
  if (!own || !view.lock || limit === undefined || !holders.includes(session) || counts(view, own)) {
    return undefined;
  }
  const rest = holders.filter((holder) => holder !== session);
  return { lockIndex: view.lock.modifyIndex, value: encodeLock(limit, rest) };
}

/**
 * Whether others contend for the semaphore besides `asker`: someone queues, or the permits are
 * all taken with it. Then a holder keeps following the prefix, so that its release can hand the
 * permit over.
 */
export function contended(view: SemaphoreView, asker: string, permits: number): boolean {
  const { queue, free } = standing(view, asker, permits);
  return queue.length > 0 || free <= 1;
}

/**
 * The handover of `releaser`'s permit: the lockstep waiters within the permits its leaving frees
 * (declaring the same count) are granted by the release itself, the first at rank 0. `undefined`
 * when there is nobody to hand it to.
 */
export function handover(view: SemaphoreView, releaser: string, permits: number): GrantWrite | undefined {
  if (view.stored.limit !== permits || !view.stored.holders.includes(releaser)) return undefined;
  const { holders, queue, free } = standing(view, releaser, permits);
  const granted = admissible(queue.slice(0, free), permits);
  if (granted.length === 0) return undefined;
  return grantWrite(view, permits, holders, [], granted, 0);
}

function grantWrite(
  view: SemaphoreView,
  permits: number,
  holders: ReadonlySet<string>,
  writers: readonly string[],
  others: readonly KvEntry[],
  firstRank: number,
): GrantWrite {
  const everyone = [...holders, ...writers, ...others.map((entry) => entry.session)];
  return {
    lockIndex: view.lock?.modifyIndex ?? 0n,
    value: encodeLock(permits, everyone),
    others: others.map((entry, at) => {
      const note = contenderNote(entry) as Extract<ContenderNote, { state: 'queued' }>;
      const value = contenderValue({ ...note, state: 'holding', rank: firstRank + at });
      return { key: entry.key, index: entry.modifyIndex, value };
    }),
  };
}

/**
 * The live holders other than `self` (alive, and admitted while their contender existed: not a
 * leftover of an earlier permit of the same session), the waiters in queue order, and how many
 * permits are free for them.
 * @throws InvalidArgumentError when holders count and the stored Limit is not `permits`.
 */
function standing(view: SemaphoreView, self: string, permits: number) {
  const holders = new Set<string>();
  for (const holder of view.stored.holders) {
    if (holder === self || !view.alive.has(holder)) continue;
    const contender = view.contenders.get(holder);
    if (contender && !counts(view, contender)) continue;
    holders.add(holder);
  }
  const { limit } = view.stored;
  if (limit !== undefined && limit !== permits && holders.size > 0) {
    throw new InvalidArgumentError(
      'permits',
      `the semaphore at ${JSON.stringify(view.lock?.key)} is in use with ${limit} permits, and this client declared ${permits}: every client of one semaphore must declare the same count`,
    );
  }
  const queue = [...view.contenders.values()]
    .filter((entry) => entry.session !== self && !holders.has(entry.session))
    .sort(queueOrder);
  return { holders, queue, free: permits - holders.size };
}

/** The lockstep waiters among `entries` that declared `permits` (others admit themselves). */
function admissible(entries: readonly KvEntry[], permits: number): KvEntry[] {
  return entries.filter((entry) => {
    const note = contenderNote(entry);
    return note?.state === 'queued' && note.permits === permits;
  });
}

/** Whether `.lock` was written since `contender` was created (so its writer saw the contender). */
function counts(view: SemaphoreView, contender: KvEntry): boolean {
  return contender.createIndex <= (view.lock?.modifyIndex ?? 0n);
}

function queueOrder(a: KvEntry, b: KvEntry): number {
  if (a.createIndex !== b.createIndex) return a.createIndex < b.createIndex ? -1 : 1;
  return a.session < b.session ? -1 : 1;
}

/** Whether `entry` queued before the asker: CreateIndex, then session (one transaction, two keys). */
function before(entry: KvEntry, asker: Asker): boolean {
  const { createIndex, session } = asker;
  return entry.createIndex < createIndex || (entry.createIndex === createIndex && entry.session < session);
}

/** `.lock`'s value as api/semaphore.go writes it: `{"Limit":N,"Holders":{"<session>":true,…}}`. */
export function encodeLock(limit: number, holders: readonly string[]): string {
  const set: Record<string, true> = {};
  for (const holder of [...holders].sort()) set[holder] = true;
  return JSON.stringify({ Limit: limit, Holders: set });
}

/**
 * Decodes `.lock` as api/semaphore.go does: missing or empty means no Limit and no holders; field
 * names match case-insensitively (as Go's JSON decoding does).
 * @throws InvalidArgumentError for a value api/semaphore.go could not decode either.
 */
export function decodeLock(entry: KvEntry | undefined): StoredLock {
  if (entry === undefined || entry.value.length === 0) return { limit: undefined, holders: [] };
  const refuse = (why: string) =>
    new InvalidArgumentError(
      'native',
      `the semaphore key ${JSON.stringify(entry.key)} does not hold api/semaphore.go's { Limit, Holders }: ${why}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.value.toString('utf8'));
  } catch {
    throw refuse('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse('not an object');
  const field = (name: string) =>
    Object.entries(parsed as Record<string, unknown>).find(([key]) => key.toLowerCase() === name)?.[1];
  const limit = field('limit');
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1)) {
    throw refuse(`Limit ${JSON.stringify(limit)} is not a positive integer`);
  }
  const holders = field('holders') ?? {};
  if (typeof holders !== 'object' || holders === null || Array.isArray(holders)) {
    throw refuse('Holders is not an object');
  }
  const set = Object.entries(holders as Record<string, unknown>).flatMap(([id, held]) =>
    held === true ? [id] : [],
  );
  return { limit: limit as number | undefined, holders: set };
}
