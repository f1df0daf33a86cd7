/**
 * The lock algorithm, after etcd's `concurrency.Mutex`: every contender puts its own key under
 * the lock's queue prefix; the key with the smallest create revision holds the lock; the
 * others each watch only the key just ahead of them, and re-check when it goes.
 *
 * Round trips:
 * - try: ONE transaction that puts our key only if the queue is empty. An acquire starts with it
 *   too: uncontended, acquiring is this one (small) round trip.
 * - enqueue: ONE transaction. Empty queue: it puts our key and we hold the lock. Otherwise it
 *   puts our key and reads the two newest keys of the queue: ours is the newest, so the other
 *   is our predecessor. An acquire sends it when the try was refused, or at once when its lock
 *   was last found taken.
 * - re-check: ONE read-only transaction that confirms our key still exists with our revision
 *   and reads the newest key older than ours.
 * - release: ONE delete of our key.
 *
 * Every request is safe to repeat after a lost reply: the key name belongs to this acquire
 * alone, and the put is guarded by a comparison on it.
 * @module
 */
import type { QueuePosition } from '@lockstep/core/driver';
import { CompareResult, CompareTarget, SortOrder, SortTarget } from 'etcd3';
import type { EtcdRpc } from './rpc.js';

/** One contender: its queue and key (strings; the RPC layer adds the client's namespace). */
export interface Contender {
  readonly queue: string;
  readonly key: string;
}

/** What a waiter waits for: the newest key older than ours, as of revision `seenAt`. */
export interface Predecessor {
  readonly key: Buffer;
  readonly seenAt: bigint;
}

/** Where a contender stands (`granted`: our key is the oldest in the queue). */
export type Position = QueuePosition<Predecessor>;

/** The result of enqueueing: our key's create revision (the fencing token) and our position. */
export interface Enqueued {
  readonly token: bigint;
  readonly position: Position;
}

export const GRANTED: Position = { kind: 'granted' };
const GONE: Position = { kind: 'gone', why: 'our queue key was deleted' };
const EMPTY = Buffer.alloc(0);

/**
 * Puts our key (on `lease`, its id in decimal) at the end of the queue and learns our position.
 * An empty queue is the fast branch; otherwise a nested transaction puts our key — unless it
 * exists: an earlier attempt whose reply was lost — and reads the two newest keys.
 */
export async function enqueue(rpc: EtcdRpc, c: Contender, lease: string): Promise<Enqueued> {
  const key = rpc.key(c.key);
  const put = { request_put: { key, value: EMPTY, lease } };
  const newestTwo = { ...olderThan(rpc, c.queue, undefined), limit: 2 };
  const res = await rpc.txn(
    {
      compare: [queueIsEmpty(rpc, c.queue)],
      success: [put],
      failure: [
        {
          request_txn: {
            compare: [createRevisionIs(key, 0n)],
            success: [put, { request_range: newestTwo }],
            failure: [{ request_range: { key, keys_only: true } }],
          },
        },
      ],
    },
    'enqueue',
  );
  if (res.succeeded) return { token: BigInt(res.header.revision), position: GRANTED };
  const nested = res.responses[0]?.response_txn;
  if (!nested?.succeeded) {
    const existing = nested?.responses[0]?.response_range?.kvs[0];
    if (existing === undefined) return enqueue(rpc, c, lease);
    const token = BigInt(existing.create_revision);
    return { token, position: await recheck(rpc, c, token) };
  }
  const token = BigInt(res.header.revision);
  const predecessor = nested.responses[1]?.response_range?.kvs.find(
    (kv) => BigInt(kv.create_revision) < token,
  );
  return { token, position: predecessor ? waitingFor(predecessor.key, token) : GRANTED };
}

/** Puts our key only if the queue is empty. Our token, or `undefined` (nothing was written). */
export async function tryEnqueue(rpc: EtcdRpc, c: Contender, lease: string): Promise<bigint | undefined> {
  const key = rpc.key(c.key);
  const compare = [queueIsEmpty(rpc, c.queue)];
  const success = [{ request_put: { key, value: EMPTY, lease } }];
  const res = await rpc.txn(
    // Only a retry can find our own key in the queue (an earlier attempt whose reply was
    // lost): only a retry asks for it. (The read costs the client ~30 µs of encoding.)
    (attempt) => ({
      compare,
      success,
      failure: attempt === 0 ? [] : [{ request_range: { key, keys_only: true } }],
    }),
    'try-acquire',
  );
  if (res.succeeded) return BigInt(res.header.revision);
  const ours = res.responses[0]?.response_range?.kvs[0];
  if (ours === undefined) return undefined;
  const token = BigInt(ours.create_revision);
  if ((await recheck(rpc, c, token)).kind === 'granted') return token;
  await remove(rpc, c.key);
  return undefined;
}

/**
 * Reads our position again.
 *
 * `seenDeleteAt`: we were woken by a delete at that revision. Then the read may be served from
 * the local state of whichever member answers (serializable: no ReadIndex, no waiting behind
 * writes in flight — on a busy lock those are the other contenders re-enqueueing), provided
 * that state already includes the delete. A state at or after it is as good as the latest for
 * our question: keys older than ours can only disappear, never appear, so "none older" stays
 * true; a stale "one older" makes us watch a key that may be gone already, and the re-read
 * that follows a watch going live after our read catches that. A member behind the delete is
 * asked again, linearizably.
 */
export async function recheck(
  rpc: EtcdRpc,
  c: Contender,
  token: bigint,
  seenDeleteAt?: bigint,
): Promise<Position> {
  const read = (serializable: boolean) =>
    rpc.txn(
      {
        compare: [createRevisionIs(rpc.key(c.key), token)],
        success: [{ request_range: { ...olderThan(rpc, c.queue, token), limit: 1, serializable } }],
        failure: [],
      },
      're-check',
    );
  let res = await read(seenDeleteAt !== undefined);
  if (seenDeleteAt !== undefined && BigInt(res.header.revision) < seenDeleteAt) res = await read(false);
  if (!res.succeeded) return GONE;
  const predecessor = res.responses[0]?.response_range?.kvs[0];
  return predecessor ? waitingFor(predecessor.key, BigInt(res.header.revision)) : GRANTED;
}

/**
 * Deletes our key; `true` when it was there. No comparison is needed to keep this from deleting
 * someone else's lock: a key name belongs to one acquire until that acquire's key is certainly
 * gone (the lease hands its slot out again only then), so whatever is at our key is ours.
 */
export function remove(rpc: EtcdRpc, key: string): Promise<boolean> {
  // Not an async function: a release is on the hot path, and this spares it a promise layer.
  return rpc.deleteKey(rpc.key(key), 'release').then((res) => Number(res.deleted) > 0);
}

/** Which of `keys` still exist with their create revision: one linearizable read of them all. */
export async function stillThere(
  rpc: EtcdRpc,
  keys: readonly { readonly key: string; readonly token: bigint }[],
): Promise<boolean[]> {
  const success = keys.map(({ key }) => ({ request_range: { key: rpc.key(key), keys_only: true } }));
  const res = await rpc.txn({ compare: [], success, failure: [] }, 'checking held keys');
  return keys.map(({ token }, i) => {
    const kv = res.responses[i]?.response_range?.kvs[0];
    return kv !== undefined && BigInt(kv.create_revision) === token;
  });
}

function waitingFor(key: Buffer, seenAt: bigint): Position {
  return { kind: 'waiting', wait: { key, seenAt } };
}

/** The queue's keys, newest first: all of them, or those older than `token`. */
function olderThan(rpc: EtcdRpc, queue: string, token: bigint | undefined) {
  return {
    key: rpc.key(queue),
    range_end: rpc.prefixEnd(queue),
    max_create_revision: token === undefined ? undefined : (token - 1n).toString(),
    sort_target: SortTarget.Create,
    sort_order: SortOrder.Descend,
    keys_only: true,
  };
}

/**
 * Holds exactly when no key is in the queue: over a range, a comparison must hold for every key
 * in it, and an empty range compares as one absent key (create revision 0).
 */
function queueIsEmpty(rpc: EtcdRpc, queue: string) {
  const [key, range_end] = [rpc.key(queue), rpc.prefixEnd(queue)];
  return { key, range_end, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' };
}

function createRevisionIs(key: Buffer, revision: bigint) {
  return {
    key,
    target: CompareTarget.Create,
    result: CompareResult.Equal,
    create_revision: revision.toString(),
  };
}
