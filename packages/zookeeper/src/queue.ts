/**
 * The queue of a lock: its contenders, in the order Curator's recipes put them, and who of them
 * may hold.
 *
 * Curator (`StandardLockInternalsDriver.fixForSorting`) sorts children by what follows the
 * last marker in their name (`lock-`; `__READ__` then `__WRIT__` for a read-write lock;
 * `latch-` for a leader latch) — ZooKeeper's zero-padded sequence — comparing strings. For a
 * lock, a writer or a leader the first one holds and everyone else waits for the child just
 * before it (no herd); a reader holds when no writer is ahead of it and waits for the nearest
 * writer ahead. lockstep uses the same order for its own primitives, so native and lockstep
 * contenders are one algorithm.
 * @module
 */
import { LATCH_NAME, LOCK_NAME, READ_NAME, WRITE_NAME } from './paths.js';

/**
 * Who of the contenders ahead keeps ours out, and which markers order a queue. `Ours` is what
 * a {@link QueueRule.judge} is told about our own contender.
 */
export interface QueueRule<Ours = unknown> {
  /** The markers whose suffix is the sorting key, applied in order (Curator's `fixForSorting`). */
  readonly markers: readonly string[];
  /** Whether a contender ahead named `name` keeps ours out; absent: every one does. */
  readonly blockedBy?: (name: string) => boolean;
  /**
   * Judges a position other than by {@link positionOf} (a semaphore's, which counts leases and
   * may need to read what some of them declare): `listed` is the queue without our strays.
   */
  readonly judge?: (listed: readonly string[], ours: Ours) => Position | Promise<Position>;
  /**
   * A contender that comes to hold after waiting bumps its own node's version once, so that the
   * one behind it — which watches it but could not otherwise see it pass from waiting to holding
   * — wakes (and a version above 0 tells a late watcher the same, so no wake-up is lost).
   */
  readonly passOn?: boolean;
}

/** A lock (`InterProcessMutex`), and the turnstile of a semaphore. */
export const MUTEX_RULE: QueueRule = { markers: [LOCK_NAME] };
/** A writer of `InterProcessReadWriteLock`: first in the queue, readers included. */
export const WRITER_RULE: QueueRule = { markers: [READ_NAME, WRITE_NAME] };
/** A reader: no writer ahead (Curator tells a writer by `__WRIT__` anywhere in the name). */
export const READER_RULE: QueueRule = {
  markers: [READ_NAME, WRITE_NAME],
  blockedBy: (name) => name.includes(WRITE_NAME),
};
/** A candidate of `LeaderLatch`: the first one leads. */
export const LATCH_RULE: QueueRule = { markers: [LATCH_NAME] };

/** The part of a child's name the queue is ordered by (Curator's `standardFixForSorting`). */
export function sortingKey(name: string, markers: readonly string[] = MUTEX_RULE.markers): string {
  let key = name;
  for (const marker of markers) {
    const at = key.lastIndexOf(marker);
    if (at >= 0) key = key.slice(at + marker.length);
  }
  return key;
}

/** Children in queue order (stable, by UTF-16 code units as Java's `String.compareTo`). */
export function queueOrder(children: readonly string[], markers?: readonly string[]): string[] {
  return children
    .map((name) => ({ name, key: sortingKey(name, markers) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.name);
}

/** The first child in queue order (the holder or leader), without sorting them all. */
export function headOf(children: readonly string[], markers?: readonly string[]): string | undefined {
  let head: string | undefined;
  let headKey = '';
  for (const name of children) {
    const key = sortingKey(name, markers);
    if (head === undefined || key < headKey) {
      head = name;
      headKey = key;
    }
  }
  return head;
}

/** Where a contender stands. */
export type Position =
  /** Nothing ahead keeps it out: it holds. */
  | { readonly kind: 'holder' }
  /**
   * Waiting; `predecessor` is the nearest child ahead of it that keeps it out, the one to watch
   * — unless `children`: then any change of the queue may let it in (a semaphore's first waiter,
   * whom any holder's release admits), and it watches the queue's children instead.
   */
  | {
      readonly kind: 'waiting';
      readonly predecessor: string;
      readonly ahead: number;
      readonly children?: true;
    }
  /** Its node is not in the queue (deleted, or its session ended). */
  | { readonly kind: 'gone' };

/**
 * The position of `ours` among `children` under `rule`: one pass, no sort (this runs on every
 * acquire). Equal keys keep listing order, as Curator's stable sort does. `ahead` counts the
 * children ahead that keep ours out.
 */
export function positionOf(
  children: readonly string[],
  ours: string,
  rule: QueueRule<never> = MUTEX_RULE,
): Position {
  const ourIndex = children.indexOf(ours);
  if (ourIndex < 0) return { kind: 'gone' };
  if (children.length === 1) return { kind: 'holder' };
  const { markers, blockedBy } = rule;
  const ourKey = sortingKey(ours, markers);
  let predecessor: string | undefined;
  let predecessorKey = '';
  let ahead = 0;
  for (let i = 0; i < children.length; i++) {
    if (i === ourIndex) continue;
    const name = children[i]!;
    if (blockedBy && !blockedBy(name)) continue;
    const key = sortingKey(name, markers);
    if (key < ourKey || (key === ourKey && i < ourIndex)) {
      ahead++;
      // The closest one ahead: the largest key below ours (the later one among equals).
      if (predecessor === undefined || key >= predecessorKey) {
        predecessor = name;
        predecessorKey = key;
      }
    }
  }
  return predecessor === undefined ? { kind: 'holder' } : { kind: 'waiting', predecessor, ahead };
}

/**
 * A lease of lockstep's own semaphore (one queue of leases, ordered by sequence): the first
 * leases hold as long as each is within the smallest count declared by it and by every lease
 * ahead of it (`declared(name)`, `undefined` for none), so the holders never exceed the smallest
 * count any of them declared, and a waiter with a small count holds back everyone behind it
 * (first in, first out). The first waiter watches the queue (any release may admit it); those
 * behind it watch the lease just ahead, which bumps its version when it comes to hold.
 */
export function permitPosition(
  children: readonly string[],
  ours: string,
  declared: (name: string) => number | undefined,
): Position {
  if (!children.includes(ours)) return { kind: 'gone' };
  const ordered = queueOrder(children, SEQUENCE_MARKERS);
  let limit = Number.POSITIVE_INFINITY;
  for (let at = 0; at < ordered.length; at++) {
    const name = ordered[at]!;
    limit = Math.min(limit, declared(name) ?? limit);
    const holds = at < limit;
    if (name === ours) {
      // Everyone ahead holds: we hold too, or we are the first waiter.
      return holds
        ? { kind: 'holder' }
        : { kind: 'waiting', predecessor: ordered[at - 1]!, ahead: at, children: true };
    }
    if (!holds) {
      // Someone ahead of us waits: so do we, behind the lease just ahead of us.
      const ourAt = ordered.indexOf(ours);
      return { kind: 'waiting', predecessor: ordered[ourAt - 1]!, ahead: ourAt };
    }
  }
  return { kind: 'gone' };
}

/** lockstep's leases are ordered by the sequence alone: what follows their last `-`. */
export const SEQUENCE_MARKERS: readonly string[] = ['-'];
