/**
 * A read-write lock as one read of its prefix shows it, and who holds — the queue rule of
 * ZooKeeper's and Curator's read-write locks, over Consul KV:
 *
 * - Every contender, waiting or holding, is a key `<prefix>/<session>` acquired with its session,
 *   written `read <owner>` or `write <owner>`, and always created by the write that queues it, so
 *   its CreateIndex (a Raft index) is its place: a newcomer's is larger than everyone's already
 *   there, and places never change while a contender stays.
 * - A writer holds when no contender is ahead of it; a reader holds when no writer is ahead of it.
 *   Because places never change and newcomers only join behind, a contender that holds keeps
 *   holding until it leaves: granting needs no write at all, only a listing.
 * - So a waiting writer holds back every reader that comes after it, and it holds as soon as the
 *   contenders ahead of it — a bounded set — have left: a stream of new readers cannot starve it.
 * - A key under the prefix held by its own session whose value is not a lockstep contender's
 *   counts as a writer (excluding everyone behind it is the safe reading).
 *
 * Pure functions, no I/O.
 * @module
 */
import type { KvEntry } from './json.js';
import { contenderKey } from './keys.js';

/** Which side a contender is on. */
export type RwMode = 'read' | 'write';

/** One contender: its entry and its side. */
export interface RwContender {
  readonly entry: KvEntry;
  readonly mode: RwMode;
  /** Its attempt's owner id (absent for a key lockstep did not write). */
  readonly owner: string | undefined;
}

/** The value of a lockstep contender: `read <owner>` or `write <owner>`. */
export function rwContenderValue(mode: RwMode, ownerId: string): string {
  return `${mode} ${ownerId}`;
}

const VALUE = /^(read|write) ([0-9a-f]{32})$/;

/** The contenders under `prefix` among `entries`, in queue order (CreateIndex). */
export function rwQueue(prefix: string, entries: readonly KvEntry[]): RwContender[] {
  const queue: RwContender[] = [];
  for (const entry of entries) {
    if (entry.session === '' || entry.key !== contenderKey(prefix, entry.session)) continue;
    const match = VALUE.exec(entry.value.toString('utf8'));
    queue.push({ entry, mode: (match?.[1] as RwMode | undefined) ?? 'write', owner: match?.[2] });
  }
  return queue.sort((a, b) => (a.entry.createIndex < b.entry.createIndex ? -1 : 1));
}

/** Whether the contender at `at` in `queue` holds (see the module comment). */
function holdsAt(queue: readonly RwContender[], at: number): boolean {
  if (queue[at]!.mode === 'write') return at === 0;
  for (let i = 0; i < at; i++) if (queue[i]!.mode === 'write') return false;
  return true;
}

/**
 * Where `asker` (its session, and the CreateIndex its queueing write gave it) stands: holding,
 * waiting, or gone (its contender is not there any more: its session ended, or someone deleted it).
 */
export function rwStanding(
  queue: readonly RwContender[],
  asker: { readonly session: string; readonly createIndex: bigint },
): 'holds' | 'waits' | 'gone' {
  const at = queue.findIndex(
    ({ entry }) => entry.session === asker.session && entry.createIndex === asker.createIndex,
  );
  if (at < 0) return 'gone';
  return holdsAt(queue, at) ? 'holds' : 'waits';
}
