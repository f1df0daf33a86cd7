/**
 * Joining a queue (a lock's, a read-write lock's, an election's, a semaphore's turnstile or
 * leases): one EPHEMERAL_SEQUENTIAL child with a protected name, its fencing token, and — when
 * anyone else is queued — the queue as it stood right after.
 *
 * Round trips (pipelined requests leave together and are answered in order):
 * - lockstep layout: `multi(create child, setData queue)` → 1 RTT. The multi is one
 *   transaction with one zxid, so the queue node's new `mzxid` *is* our child's `czxid` — the
 *   fencing token without a separate read (node-zookeeper-client has no create2) — and the
 *   queue node's `numChildren` in the same reply says whether anyone else is queued. Alone, we
 *   hold the lock and nothing needs listing (the common, uncontended case). Otherwise everyone
 *   else was there first (sequence numbers only grow), so a `tryAcquire` already knows it lost;
 *   a waiter — or a contender that may hold behind others (a reader, a lease) — lists the queue
 *   (`getChildren`, 1 more RTT).
 * - native layout: `create child` + `getChildren queue`, then `exists child` for the czxid → 2
 *   RTTs. The queue node there may belong to someone else, so lockstep does not write its data.
 * - queue node missing: its ancestors are created (all pipelined, 1 RTT) and the above retried.
 *
 * A create whose reply is lost with the connection may or may not have happened
 * (ZOOKEEPER-1262). The per-attempt UUID in the name finds it again: after the reconnect the
 * queue is listed and our child adopted if it is there; if it is not, the prefix is remembered
 * as an orphan (a create still in flight in the ensemble could land later) and a new UUID is used.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Backoff, sleep } from '@lockstep/core/driver';
import { Code, hasCode, isConnectionError, ZkError } from './errors.js';
import { ancestry, basename, child, contenderPrefix, type LockLayout } from './paths.js';
import type { QueueRule } from './queue.js';
import { CreateMode, type RawWatcher, zxid } from './raw.js';
import type { ZkSession } from './session.js';

const EMPTY = Buffer.alloc(0);
/** Re-creating a queue node that a concurrent cleanup keeps deleting: give up after this many tries. */
const MAX_QUEUE_RECREATES = 5;

/** What a contender joins, and how its node is named. */
export interface LineShape {
  readonly layout: LockLayout;
  /** Who ahead keeps it out, and how the queue is ordered. */
  readonly rule: QueueRule<Contender>;
  /** The recipe's marker in its name (`lock-`, `__READ__`, `lease-`, …). */
  readonly marker: string;
  /** Its node's data (a lease's declared permits, a candidate's value); empty when absent. */
  readonly data?: Buffer;
}

/** Our child in a queue. */
export interface Contender {
  readonly session: ZkSession;
  readonly shape: LineShape;
  readonly layout: LockLayout;
  /** The child's name (`_c_<uuid>-lock-<sequence>`). */
  readonly name: string;
  /** Its full path. */
  readonly path: string;
  /** Its czxid: the fencing token if it comes to hold the lock. */
  readonly token: bigint;
  /**
   * The queue's children right after the create; `undefined` when ZooKeeper's count showed
   * that others were queued before us and nobody has listed them yet.
   */
  readonly children: readonly string[] | undefined;
  /** Protected prefixes of earlier creates whose outcome stayed unknown (delete on sight). */
  readonly orphans: readonly string[];
}

type Created = Omit<Contender, 'session' | 'shape' | 'layout' | 'orphans'>;

/**
 * Creates our child in `shape.layout.queue` over `session`; `onCreated` hears of each node of
 * the layout (the queue, its container) created on the way.
 * @throws ZkError, or the session's loss, when it cannot.
 */
export async function enqueue(
  session: ZkSession,
  shape: LineShape,
  protectedId: string,
  onCreated: (node: string) => void,
): Promise<Contender> {
  const { layout, marker } = shape;
  const data = shape.data ?? EMPTY;
  const orphans: string[] = [];
  let prefix = contenderPrefix(protectedId, marker);
  for (let recreates = 0; ; ) {
    try {
      const created = layout.native
        ? await createNative(session, layout.queue, prefix, data)
        : await createFenced(session, layout.queue, prefix, data);
      return { session, shape, layout, ...created, orphans };
    } catch (error) {
      if (hasCode(error, Code.NO_NODE) && recreates++ < MAX_QUEUE_RECREATES) {
        for (const node of await ensurePath(session, layout.queue)) {
          if (node === layout.queue || node === layout.container) onCreated(node);
        }
        continue;
      }
      if (!isConnectionError(error) || !session.live) throw error;
      const adopted = await findByPrefix(session, layout.queue, prefix);
      if (adopted) return { session, shape, layout, ...adopted, orphans };
      orphans.push(prefix);
      prefix = contenderPrefix(randomUUID(), marker);
    }
  }
}

async function createFenced(
  session: ZkSession,
  queue: string,
  prefix: string,
  data: Buffer,
): Promise<Created> {
  const [createResult, touchResult] = await session.multi(`enqueue in ${queue}`, (tx) => {
    tx.create(child(queue, prefix), data, CreateMode.EPHEMERAL_SEQUENTIAL);
    tx.setData(queue, EMPTY, -1);
  });
  const path = createResult?.path;
  const stat = touchResult?.stat;
  if (path === undefined || stat === undefined) {
    throw new ZkError(Number.NaN, `enqueue in ${queue}: unexpected multi reply`);
  }
  const name = basename(path);
  // The count is the queue's as of our own transaction: 1 is our child alone.
  const children = stat.numChildren === 1 ? [name] : undefined;
  return { name, path, token: zxid(stat.mzxid), children };
}

async function createNative(
  session: ZkSession,
  queue: string,
  prefix: string,
  data: Buffer,
): Promise<Created> {
  const [created, listed] = session.together(() => [
    session.create(child(queue, prefix), data, CreateMode.EPHEMERAL_SEQUENTIAL),
    session.getChildren(queue),
  ]);
  listed.catch(() => {});
  const path = await created;
  const stat = await session.exists(path);
  const children = await listed;
  if (stat === null) throw new ZkError(Code.NO_NODE, `enqueue in ${queue}: our node vanished at once`);
  return { name: basename(path), path, token: zxid(stat.czxid), children };
}

/**
 * Creates `path` and its ancestors (persistent, empty), all in one pipelined round trip.
 * Resolves the nodes created here (not by someone else first).
 */
export async function ensurePath(session: ZkSession, path: string): Promise<string[]> {
  const nodes = ancestry(path);
  const creates = session.together(() =>
    nodes.map((node) =>
      session.create(node, EMPTY, CreateMode.PERSISTENT).then(
        () => true,
        (error: unknown) => {
          if (!hasCode(error, Code.NODE_EXISTS)) throw error;
          return false;
        },
      ),
    ),
  );
  const created = await Promise.all(creates);
  return nodes.filter((_, i) => created[i]);
}

/** After a lost create reply: our child, if the create did happen. Retries listing until answered. */
async function findByPrefix(session: ZkSession, queue: string, prefix: string): Promise<Created | undefined> {
  const children = await listQueue(session, queue);
  const name = children.find((c) => c.startsWith(prefix));
  if (name === undefined) return undefined;
  const path = child(queue, name);
  const stat = await patiently(session, () => session.exists(path));
  return stat === null ? undefined : { name, path, token: zxid(stat.czxid), children };
}

/**
 * The children of `queue` (none when the queue node is gone), asked until answered while the
 * session lives; `watcher` hears of the next change of them.
 */
export async function listQueue(
  session: ZkSession,
  queue: string,
  signal?: AbortSignal,
  watcher?: RawWatcher,
): Promise<string[]> {
  try {
    return await patiently(session, () => session.getChildren(queue, watcher), signal);
  } catch (error) {
    if (hasCode(error, Code.NO_NODE)) return [];
    throw error;
  }
}

/**
 * Runs `request` until it gets an answer: a connection failure is retried (with backoff) for
 * as long as the session lives, since the client re-sends nothing by itself.
 */
async function patiently<T>(session: ZkSession, request: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const backoff = new Backoff(25, 1_000);
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if (!isConnectionError(error) || !session.live || signal?.aborted) throw error;
      await sleep(backoff.next(), signal);
    }
  }
}
