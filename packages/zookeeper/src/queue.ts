/**
 * The queue of a lock: its contenders, in the order Curator's `InterProcessMutex` puts them.
 *
 * Curator (`StandardLockInternalsDriver.fixForSorting`) sorts children by what follows the
 * last `lock-` in their name — ZooKeeper's zero-padded sequence — comparing strings, and lets
 * the first one hold. Everyone else waits for the child just before it (no herd). lockstep
 * uses the same order for its own locks, so native and lockstep locks are one algorithm.
 * @module
 */
import { LOCK_NAME } from './paths.js';

/** The part of a child's name the queue is ordered by (Curator's `standardFixForSorting`). */
export function sortingKey(name: string): string {
  const at = name.lastIndexOf(LOCK_NAME);
  return at >= 0 ? name.slice(at + LOCK_NAME.length) : name;
}

/** Children in queue order (stable, by UTF-16 code units as Java's `String.compareTo`). */
export function queueOrder(children: readonly string[]): string[] {
  return children
    .map((name) => ({ name, key: sortingKey(name) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.name);
}

/** Where a contender stands. */
export type Position =
  /** First in the queue: it holds the lock. */
  | { readonly kind: 'holder' }
  /** Waiting; `predecessor` is the child just ahead of it. */
  | { readonly kind: 'waiting'; readonly predecessor: string; readonly ahead: number }
  /** Its node is not in the queue (deleted, or its session ended). */
  | { readonly kind: 'gone' };

/**
 * The position of `ours` among `children`: one pass, no sort (this runs on every acquire).
 * Equal keys keep listing order, as Curator's stable sort does.
 */
export function positionOf(children: readonly string[], ours: string): Position {
  const ourIndex = children.indexOf(ours);
  if (ourIndex < 0) return { kind: 'gone' };
  if (children.length === 1) return { kind: 'holder' };
  const ourKey = sortingKey(ours);
  let predecessor: string | undefined;
  let predecessorKey = '';
  let ahead = 0;
  for (let i = 0; i < children.length; i++) {
    if (i === ourIndex) continue;
    const name = children[i]!;
    const key = sortingKey(name);
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
