/**
 * Following one endpoint with blocking queries (features/blocking.mdx): `GET <path>?index=N&wait=D`
 * hangs until the endpoint's index moves past N or D runs out. The loop follows the documented rules:
 *
 * - the first query has no index and answers at once;
 * - a return is no proof of change (timeouts, idempotent writes): compare, then query again;
 * - the index going backwards (a server restored from a snapshot, a new leader) resets it to 0;
 * - an index below 1 is raised to 1, so a buggy 0 cannot turn the loop into a hot loop;
 * - the loop is rate-limited: an answer indexed by a whole table (a missing key, a session) ends on
 *   any write to that table, so such answers are spaced out, and answers that changed nothing back off;
 * - transport errors back off and never end the loop: only `signal` does.
 * @module
 */
import { Backoff, sleep } from '@lockstep/core/driver';
import type { ConsulHttp, ConsulReply } from './http.js';
import { type KvEntry, singleEntry } from './json.js';
import { kvPath } from './keys.js';

/** One answer, read: the state, what tells it apart from the previous one, and what indexes it. */
export interface Reading<S> {
  readonly state: S;
  readonly signature: string;
  /** The answer carries a whole table's index, which any write to that table moves. */
  readonly tableIndexed: boolean;
}

/** Options of {@link follow}. */
export interface FollowOptions<S> {
  readonly path: string;
  /** More query parameters of every request (`recurse` for a prefix). */
  readonly query?: Readonly<Record<string, string>>;
  /** Index to block on first: 0 (default) reads at once; a known index waits for a change. */
  readonly startIndex?: bigint;
  /** The `wait` of each query. */
  readonly waitMs: number;
  /** Ask for a consistent read (`?consistent`). */
  readonly consistent?: boolean;
  /** Reads an answer; throws on a status that is not one. */
  readonly read: (reply: ConsulReply) => Reading<S>;
  /** Called with every state that differs from the previous one (the first one included). */
  readonly onState: (state: S) => void;
  /** Ends the loop (and aborts the query in flight). */
  readonly signal: AbortSignal;
}

/** Spacing of consecutive table-indexed answers. */
export const MISSING_KEY_SPACING_MS = 100;

/** Runs until `options.signal` aborts; never rejects. */
export async function follow<S>(http: ConsulHttp, options: FollowOptions<S>): Promise<void> {
  const { path, signal } = options;
  const waitSeconds = Math.max(1, Math.round(options.waitMs / 1000));
  const unchanged = new Backoff(50, 2_000);
  const failing = new Backoff(100, 5_000);
  let index = options.startIndex ?? 0n;
  let last: Reading<S> | undefined;
  while (!signal.aborted) {
    const startedAt = performance.now();
    const blocking = index > 0n;
    let reading: Reading<S>;
    let next: bigint;
    try {
      const reply = await http.send({
        method: 'GET',
        path,
        query: {
          ...options.query,
          index: blocking ? String(index) : undefined,
          wait: blocking ? `${waitSeconds}s` : undefined,
          consistent: options.consistent ? '' : undefined,
        },
        // Consul adds up to wait/16 of jitter before answering.
        timeoutMs: blocking ? waitSeconds * 1000 * (17 / 16) + http.requestTimeoutMs : undefined,
        signal,
        doing: `watching ${path}`,
      });
      reading = options.read(reply);
      next = reply.index ?? 0n;
      failing.reset();
    } catch {
      await sleep(failing.next(), signal);
      continue;
    }
    const changed = reading.signature !== last?.signature;
    const spaced = reading.tableIndexed && last?.tableIndexed === true;
    last = reading;
    if (changed && !signal.aborted) options.onState(reading.state);
    // blocking.mdx › Reset the index if it goes backwards; › Sanity check index is greater than zero.
    index = next < index ? 0n : next < 1n ? 1n : next;
    const elapsed = performance.now() - startedAt;
    let pause = 0;
    if (!changed && elapsed < waitSeconds * 500) pause = unchanged.next();
    else {
      unchanged.reset();
      if (spaced) pause = MISSING_KEY_SPACING_MS - elapsed;
    }
    if (pause > 0) await sleep(pause, signal);
  }
}

/** What a KV query saw: the entry, or that the key does not exist (with the index of that answer). */
export type KeyState =
  | { readonly exists: true; readonly entry: KvEntry }
  | { readonly exists: false; readonly index: bigint };

/** Reads one answer of a KV key (`GET /v1/kv/<key>`, blocking or not) as a {@link KeyState}. */
export function keyReading(http: ConsulHttp, key: string): (reply: ConsulReply) => Reading<KeyState> {
  const doing = `watching ${key}`;
  return (reply) => {
    const index = reply.index ?? 0n;
    if (reply.status === 404)
      return { state: { exists: false, index }, signature: `missing@${index}`, tableIndexed: true };
    if (reply.status !== 200) throw http.failure(reply, doing);
    const entry = singleEntry(reply.text);
    return {
      state: { exists: true, entry },
      signature: `${entry.modifyIndex}/${entry.session}`,
      tableIndexed: false,
    };
  };
}

/** {@link follow} on one KV key. */
export function followKey(
  http: ConsulHttp,
  options: Omit<FollowOptions<KeyState>, 'path' | 'read'> & { readonly key: string },
): Promise<void> {
  return follow(http, { ...options, path: kvPath(options.key), read: keyReading(http, options.key) });
}
