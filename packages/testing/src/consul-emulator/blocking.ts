/**
 * Blocking queries (features/blocking.mdx): `?index=N&wait=D` hangs until the endpoint's index
 * moves past N, or D elapses (plus up to D/16 of random jitter), then answers with the current
 * state and its index in `X-Consul-Index`.
 */
import type { ChangeFeed } from './change-feed.js';
import { parseGoDuration } from './duration.js';
import { HttpError, indexFrom, uintParam } from './http-kit.js';

/** blocking.mdx: the wait defaults to 5 minutes and is limited to 10 minutes. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

export interface BlockingParams {
  /** 0 means "do not block". */
  readonly minIndex: number;
  readonly waitMs: number;
}

export function parseBlockingParams(query: URLSearchParams): BlockingParams {
  const index = uintParam(query, 'index');
  let waitMs = DEFAULT_WAIT_MS;
  if (query.has('wait')) {
    const nanos = parseGoDuration(query.get('wait') ?? '');
    if (nanos === undefined) throw new HttpError(400, 'Invalid wait time');
    if (nanos > 0) waitMs = Math.min(nanos / 1e6, MAX_WAIT_MS);
  }
  return { minIndex: index === undefined ? 0 : indexFrom(index), waitMs };
}

export interface QueryAnswer<T> {
  readonly index: number;
  readonly value: T;
}

/**
 * Runs `query` now and, if the client asked to block and the index has not moved past `minIndex`,
 * again after every change until it has or the wait runs out. The reported index is never below 1
 * (blocking.mdx › Sanity check index is greater than zero).
 */
export async function blockingQuery<T>(
  params: BlockingParams,
  changes: ChangeFeed,
  signal: AbortSignal,
  query: () => QueryAnswer<T>,
): Promise<QueryAnswer<T>> {
  const answer = (): QueryAnswer<T> => {
    const result = query();
    return result.index >= 1 ? result : { ...result, index: 1 };
  };
  let current = answer();
  if (params.minIndex === 0 || current.index > params.minIndex) return current;
  const jitterMs = Math.random() * (params.waitMs / 16);
  await changes.waitFor(
    () => {
      current = answer();
      return current.index > params.minIndex;
    },
    params.waitMs + jitterMs,
    signal,
  );
  return answer();
}
