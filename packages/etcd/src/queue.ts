/**
 * The lock algorithm, after etcd's `concurrency.Mutex`: every contender puts its own key under
 * the lock's queue prefix; the key with the smallest create revision holds the lock; the
 * others each watch only the key just ahead of them, and re-check when it goes.
 *
 * Round trips:
 * - try: ONE transaction that puts our key only if the queue is empty (a retry after a lost
 *   reply also reads our key back). An acquire starts with it too: uncontended, acquiring is
 *   this one (small) round trip.
 * - enqueue: ONE transaction. Empty queue: it puts our key and we hold the lock. Otherwise it
 *   puts our key and reads the two newest keys of the queue: ours is the newest, so the other
 *   is our predecessor. An acquire sends it when the try was refused, or at once when its lock
 *   was last found taken.
 * - re-check (after the predecessor's delete): ONE read-only transaction that confirms our key
 *   still exists with our revision and reads the newest key older than ours (serializable when
 *   the answering member has applied the delete that woke us).
 * - release: ONE delete of our key.
 *
 * Every request is safe to repeat after a lost reply: the key name belongs to this acquire
 * alone, and the put is guarded by a comparison on it.
 * @module
 */
import type { QueuePosition } from '@lockstep/core/driver';
import { CompareResult, CompareTarget, type ITxnResponse, SortOrder, SortTarget } from 'etcd3';
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

export const GRANTED: Position = { kind: 'granted' };
const GONE: Position = { kind: 'gone', why: 'our queue key was deleted' };

/** The result of enqueueing: our key's create revision (the fencing token) and our position. */
export interface Enqueued {
  readonly token: bigint;
  readonly position: Position;
}

const EMPTY = Buffer.alloc(0);

/**
 * Puts our key (on `lease`, its id in decimal) at the end of the queue and learns our position: one round trip.
 *
 * The common case — an empty queue — is the transaction's fast branch: a comparison that holds
 * only when no key is in the queue, then our put. Otherwise a nested transaction puts our key
 * (unless it exists: an earlier attempt whose reply was lost) and reads the two newest keys;
 * ours is the newest, so the other one is our predecessor.
 */
export async function enqueue(rpc: EtcdRpc, c: Contender, lease: string): Promise<Enqueued> {
  const key = rpc.key(c.key);
  const queue = rpc.key(c.queue);
  const queueEnd = rpc.prefixEnd(c.queue);
  const put = { request_put: { key, value: EMPTY, lease } };
  const res = await rpc.txn(
    {
      compare: [queueIsEmpty(queue, queueEnd)],
      success: [put],
      failure: [
        {
          request_txn: {
            compare: [createRevisionIs(key, 0n)],
            success: [
              put,
              {
                request_range: {
                  key: queue,
                  range_end: queueEnd,
                  sort_target: SortTarget.Create,
                  sort_order: SortOrder.Descend,
                  limit: 2,
                  keys_only: true,
                },
              },
            ],
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
  const newest = nested.responses[1]?.response_range?.kvs ?? [];
  const predecessor = newest.find((kv) => BigInt(kv.create_revision) < token);
  return {
    token,
    position: predecessor ? { kind: 'waiting', wait: { key: predecessor.key, seenAt: token } } : GRANTED,
  };
}

/**
 * Puts our key only if the queue is empty: one round trip. Returns our token, or `undefined`
 * when someone holds or waits for the lock (nothing was written).
 */
export async function tryEnqueue(rpc: EtcdRpc, c: Contender, lease: string): Promise<bigint | undefined> {
  const key = rpc.key(c.key);
  const queue = rpc.key(c.queue);
  const compare = [queueIsEmpty(queue, rpc.prefixEnd(c.queue))];
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
  // Our own key may be what made the queue non-empty (a retry after a lost reply).
  const ours = createRevisionIn(res, 0);
  if (ours === undefined) return undefined;
  const position = await recheck(rpc, c, ours);
  if (position.kind === 'granted') return ours;
  await remove(rpc, c.key);
  return undefined;
}

/**
 * Reads our position again: one read-only round trip.
 *
 * `seenDeleteAt`: we were woken by a delete at that revision. Then the read may be served from
 * the local state of whichever member answers (serializable: no ReadIndex, no waiting behind
 * writes in flight — on a busy lock those are the other contenders re-enqueueing), provided
 * that state already includes the delete. A state at or after it is as good as the latest for
 * our question: keys older than ours can only disappear, never appear, so "none older" stays
 * true; a stale "one older" makes us watch a key that may be gone already, and the re-read
 * that follows a watch going live after our read catches that. A member behind
 * the delete is asked again, linearizably.
 */
export async function recheck(
  rpc: EtcdRpc,
  c: Contender,
  token: bigint,
  seenDeleteAt?: bigint,
): Promise<Position> {
  const queue = rpc.key(c.queue);
  const read = (serializable: boolean) =>
    rpc.txn(
      {
        compare: [createRevisionIs(rpc.key(c.key), token)],
        success: [
          {
            request_range: {
              key: queue,
              range_end: rpc.prefixEnd(c.queue),
              max_create_revision: (token - 1n).toString(),
              sort_target: SortTarget.Create,
              sort_order: SortOrder.Descend,
              limit: 1,
              keys_only: true,
              serializable,
            },
          },
        ],
        failure: [],
      },
      're-check',
    );
  let res = await read(seenDeleteAt !== undefined);
  if (seenDeleteAt !== undefined && BigInt(res.header.revision) < seenDeleteAt) res = await read(false);
  if (!res.succeeded) return GONE;
  const [predecessor] = rangeIn(res, 0);
  return predecessor
    ? { kind: 'waiting', wait: { key: predecessor.key, seenAt: BigInt(res.header.revision) } }
    : GRANTED;
}

/**
 * Deletes our key: one round trip. `true` when it was there.
 *
 * No comparison is needed to keep this from deleting someone else's lock: a key name belongs
 * to one acquire until that acquire's key is certainly gone (the lease id and a slot the
 * session hands out again only then), so whatever is at our key is ours.
 */
export function remove(rpc: EtcdRpc, key: string): Promise<boolean> {
  // Not an async function: a release is on the hot path, and this spares it a promise layer.
  return rpc.deleteKey(rpc.key(key), 'release').then((res) => Number(res.deleted) > 0);
}

/** Whether our key still exists with our revision: one round trip. */
export async function stillQueued(rpc: EtcdRpc, key: string, token: bigint): Promise<boolean> {
  const res = await rpc.range({ key: rpc.key(key), keys_only: true }, 'is-held');
  const kv = res.kvs[0];
  return kv !== undefined && BigInt(kv.create_revision) === token;
}

/**
 * Holds exactly when no key is in `[queue, queueEnd)`: over a range, a comparison must hold for
 * every key in it, and an empty range compares as one absent key (create revision 0).
 */
function queueIsEmpty(queue: Buffer, queueEnd: Buffer) {
  return {
    key: queue,
    range_end: queueEnd,
    target: CompareTarget.Create,
    result: CompareResult.Equal,
    create_revision: '0',
  };
}

function createRevisionIs(key: Buffer, revision: bigint) {
  return {
    key,
    target: CompareTarget.Create,
    result: CompareResult.Equal,
    create_revision: revision === 0n ? '0' : revision.toString(),
  };
}

function rangeIn(res: ITxnResponse, index: number) {
  return res.responses[index]?.response_range?.kvs ?? [];
}

function createRevisionIn(res: ITxnResponse, index: number): bigint | undefined {
  const kv = rangeIn(res, index)[0];
  return kv === undefined ? undefined : BigInt(kv.create_revision);
}
