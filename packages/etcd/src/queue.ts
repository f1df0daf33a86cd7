/**
 * The queue algorithm, after etcd's `concurrency.Mutex` and its recipes: every contender puts
 * its own key under a queue prefix, and the create revision orders them. Who may hold is one
 * rule over the keys older than ours: a lock's (and an election candidate's, and a writer's) none
 * at all; a reader's no writer among them (etcd's `RWMutex`: readers wait only for earlier
 * writers); a semaphore permit's fewer than the smallest count declared by itself and by each of
 * them. A waiter watches the keys older than ours that the rule reads — for a lock, a writer and
 * a reader the one just ahead; for a semaphore of N permits the N just ahead, because the
 * release of any of them can let it in and none further ahead can (until one of those N goes,
 * it stays N or more from the front) — and re-checks when one goes.
 *
 * Round trips:
 * - try: ONE transaction that puts our key only if no key can hold us back. An acquire starts
 *   with it too: uncontended, acquiring is this one (small) round trip. (A semaphore has no such
 *   try: "fewer than N" is no comparison etcd can make; its try is the enqueue.)
 * - enqueue: ONE transaction. Nobody ahead: it puts our key and we hold. Otherwise it puts our
 *   key and reads the newest keys that can hold us back: ours is the newest of the queue, so the
 *   others are just ahead of us. An acquire sends it when the try was refused, or at once when
 *   its lock was last found taken.
 * - re-check: ONE read-only transaction that confirms our key still exists with our revision
 *   and reads the newest keys older than ours that can hold us back.
 * - release: ONE delete of our key.
 *
 * Every request is safe to repeat after a lost reply: the key name belongs to this acquire
 * alone, and the put is guarded by a comparison on it.
 * @module
 */
import type { QueuePosition } from '@lockstep/core/driver';
import { CompareResult, CompareTarget, type IKeyValue, SortOrder, SortTarget } from 'etcd3';
import type { EtcdRpc } from './rpc.js';

/** One contender (strings; the RPC layer adds the client's namespace). */
export interface Contender {
  /** Our key. */
  readonly key: string;
  /**
   * The prefix whose keys older than ours can hold us back: our queue (which holds our key), or
   * only the writers' part of it (a reader's).
   */
  readonly queue: string;
  /**
   * A semaphore's: the permits we declared, written as our key's value. Each key ahead holds its
   * own, and we hold while fewer keys than the smallest of them are ahead. Absent: one permit.
   */
  readonly permits?: number;
  /** What our key holds otherwise (a candidate's value); empty when absent. */
  readonly value?: Buffer;
}

/** What a waiter waits for: the keys ahead that can let it in, as of revision `seenAt`. */
export interface Predecessor {
  readonly keys: readonly Buffer[];
  readonly seenAt: bigint;
}

/** Where a contender stands (`granted`: it holds). */
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
 * Nobody ahead is the fast branch; otherwise a nested transaction puts our key — unless it
 * exists: an earlier attempt whose reply was lost — and reads the newest keys that can hold us
 * back (ours among them when they share our prefix).
 */
export async function enqueue(rpc: EtcdRpc, c: Contender, lease: string): Promise<Enqueued> {
  const key = rpc.key(c.key);
  const put = { request_put: { key, value: keyValue(c), lease } };
  const newest = { ...olderThan(rpc, c, undefined), limit: depth(c) + (c.key.startsWith(c.queue) ? 1 : 0) };
  const res = await rpc.txn(
    {
      compare: [queueIsEmpty(rpc, c.queue)],
      success: [put],
      failure: [
        {
          request_txn: {
            compare: [createRevisionIs(key, 0n)],
            success: [put, { request_range: newest }],
            failure: [{ request_range: { key, keys_only: true } }],
          },
        },
      ],
    },
    'enqueue',
  );
  if (res.succeeded) return { token: BigInt(res.header.revision), position: GRANTED };
  const nested = res.responses[0]!.response_txn!;
  if (!nested.succeeded) {
    // Our key exists: an earlier attempt whose reply was lost wrote it. Carry on with it.
    const token = BigInt(nested.responses[0]!.response_range!.kvs[0]!.create_revision);
    return { token, position: await recheck(rpc, c, token) };
  }
  const token = BigInt(res.header.revision);
  const ahead = nested.responses[1]?.response_range?.kvs.filter((kv) => BigInt(kv.create_revision) < token);
  return { token, position: judge(c, ahead ?? [], token) };
}

/**
 * Puts our key only if no key can hold us back (not for semaphores). Our token, or `undefined`
 * (nothing was written).
 */
export async function tryEnqueue(rpc: EtcdRpc, c: Contender, lease: string): Promise<bigint | undefined> {
  const key = rpc.key(c.key);
  const compare = [queueIsEmpty(rpc, c.queue)];
  const success = [{ request_put: { key, value: keyValue(c), lease } }];
  const res = await rpc.txn(
    // Only a retry can find our own key in the queue (an earlier attempt whose reply was
    // lost), so only a retry asks for it back: the first attempt stays lean.
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
 * raft), provided the revision it answers at is at least `seenDeleteAt` — a member's state is
 * a prefix of the log, so that state already includes the delete. A state at or after it is as
 * good as the latest for our question: keys older than ours can only disappear, never appear,
 * so "none older" stays true; a stale "one older" makes us watch a key that may be gone already,
 * and the re-read that follows a watch going live after our read catches that. A member behind
 * the delete is asked again, linearizably.
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
        success: [{ request_range: { ...olderThan(rpc, c, token), limit: depth(c), serializable } }],
        failure: [],
      },
      're-check',
    );
  let res = await read(seenDeleteAt !== undefined);
  if (seenDeleteAt !== undefined && BigInt(res.header.revision) < seenDeleteAt) res = await read(false);
  if (!res.succeeded) return GONE;
  return judge(c, res.responses[0]?.response_range?.kvs ?? [], BigInt(res.header.revision));
}

/**
 * Our position from the newest keys ahead of us that can hold us back (at most {@link depth}).
 * A semaphore permit holds while they are fewer than our count and than every count they
 * declared: when fewer than our count came back, they are all the keys ahead.
 */
function judge(c: Contender, ahead: readonly IKeyValue[], seenAt: bigint): Position {
  if (ahead.length === 0) return GRANTED;
  if (c.permits !== undefined && ahead.length < c.permits) {
    let smallest = c.permits;
    for (const kv of ahead) smallest = Math.min(smallest, declaredPermits(kv));
    if (ahead.length < smallest) return GRANTED;
  }
  return { kind: 'waiting', wait: { keys: ahead.map((kv) => kv.key), seenAt } };
}

/** The permits a semaphore key declared (a value that is no count holds everyone back). */
function declaredPermits(kv: IKeyValue): number {
  const n = Number(kv.value.toString());
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
}

/** How many keys ahead one check reads. */
function depth(c: Contender): number {
  return c.permits ?? 1;
}

/** What our key holds. */
function keyValue(c: Contender): Buffer {
  return c.permits !== undefined ? Buffer.from(String(c.permits)) : (c.value ?? EMPTY);
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

/**
 * The keys that can hold `c` back, newest first: all of them, or those older than `token`; with
 * their values for a semaphore (the counts they declared).
 */
function olderThan(rpc: EtcdRpc, c: Contender, token: bigint | undefined) {
  return {
    key: rpc.key(c.queue),
    range_end: rpc.prefixEnd(c.queue),
    max_create_revision: token === undefined ? undefined : (token - 1n).toString(),
    sort_target: SortTarget.Create,
    sort_order: SortOrder.Descend,
    keys_only: c.permits === undefined,
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
