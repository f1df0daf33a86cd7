/**
 * Following one KV key with blocking queries (features/blocking.mdx): `GET /v1/kv/<key>?index=N&wait=D`
 * hangs until the key's index moves past N or D runs out. The loop follows the documented rules:
 *
 * - the first query has no index and answers at once;
 * - a return is no proof of change (timeouts, idempotent writes): compare, then query again;
 * - the index going backwards (a server restored from a snapshot, a new leader) resets it to 0;
 * - an index below 1 is raised to 1, so a buggy 0 cannot turn the loop into a hot loop;
 * - the loop is rate-limited: a missing key's index is the whole KV table's, so any write anywhere
 *   ends the wait — such answers are spaced out, and answers that changed nothing back off;
 * - transport errors back off (100 ms doubling to 5 s) and never end the loop: only `signal` does.
 * @module
 */
import { sleep } from '@lockstep/core';
import type { ConsulHttp } from './http.js';
import { type KvEntry, singleEntry } from './json.js';
import { kvPath } from './keys.js';

/** What a query saw: the entry, or that the key does not exist (with the index of that answer). */
export type KeyState =
  | { readonly exists: true; readonly entry: KvEntry }
  | { readonly exists: false; readonly index: bigint };

/** Options of {@link followKey}. */
export interface FollowOptions {
  readonly key: string;
  /** Index to block on first: 0 (default) reads at once; a known ModifyIndex waits for a change. */
  readonly startIndex?: bigint;
  /** The `wait` of each query. */
  readonly waitMs: number;
  /** Ask for a consistent read (`?consistent`), as api/lock.go's monitor does. */
  readonly consistent?: boolean;
  /** Called with every state that differs from the previous one (the first one included). */
  readonly onState: (state: KeyState) => void;
  /** Ends the loop (and aborts the query in flight). */
  readonly signal: AbortSignal;
}

/** Spacing of consecutive queries that found the key missing twice in a row. */
export const MISSING_KEY_SPACING_MS = 100;
const UNCHANGED_BACKOFF_MS = { first: 50, max: 2_000 };
const ERROR_BACKOFF_MS = { first: 100, max: 5_000 };

/** Runs until `options.signal` aborts; never rejects. */
export async function followKey(http: ConsulHttp, options: FollowOptions): Promise<void> {
  const { key, waitMs, signal } = options;
  const waitSeconds = Math.max(1, Math.round(waitMs / 1000));
  let index = options.startIndex ?? 0n;
  let last: string | undefined;
  let unchangedBackoff = 0;
  let errorBackoff = 0;
  while (!signal.aborted) {
    const startedAt = performance.now();
    let state: KeyState;
    let next: bigint;
    try {
      const reply = await http.send({
        method: 'GET',
        path: kvPath(key),
        query: {
          index: index > 0n ? String(index) : undefined,
          wait: index > 0n ? `${waitSeconds}s` : undefined,
          consistent: options.consistent ? '' : undefined,
        },
        // Consul adds up to wait/16 of jitter before answering.
        timeoutMs: index > 0n ? waitSeconds * 1000 * (17 / 16) + http.requestTimeoutMs : undefined,
        signal,
        doing: `watching ${key}`,
      });
      if (reply.status !== 200 && reply.status !== 404) throw http.failure(reply, `watching ${key}`);
      next = reply.index ?? 0n;
      state =
        reply.status === 404
          ? { exists: false, index: next }
          : { exists: true, entry: singleEntry(reply.text) };
      errorBackoff = 0;
    } catch {
      if (signal.aborted) return;
      errorBackoff =
        errorBackoff === 0 ? ERROR_BACKOFF_MS.first : Math.min(errorBackoff * 2, ERROR_BACKOFF_MS.max);
      await sleep(errorBackoff, signal);
      continue;
    }
    const signature = state.exists ? `${state.entry.modifyIndex}/${state.entry.session}` : `missing@${next}`;
    const wasMissing = last?.startsWith('missing@') ?? false;
    const changed = signature !== last;
    if (changed) {
      last = signature;
      if (!signal.aborted) options.onState(state);
    }
    // blocking.mdx › Reset the index if it goes backwards; › Sanity check index is greater than zero.
    index = next < index ? 0n : next < 1n ? 1n : next;

    let pause = 0;
    if (!changed && performance.now() - startedAt < waitSeconds * 500) {
      unchangedBackoff =
        unchangedBackoff === 0
          ? UNCHANGED_BACKOFF_MS.first
          : Math.min(unchangedBackoff * 2, UNCHANGED_BACKOFF_MS.max);
      pause = unchangedBackoff;
    } else {
      unchangedBackoff = 0;
      if (!state.exists && wasMissing) pause = MISSING_KEY_SPACING_MS - (performance.now() - startedAt);
    }
    if (pause > 0) await sleep(pause, signal);
  }
}
