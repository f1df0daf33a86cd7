/**
 * A held permit of a Consul semaphore: a {@link ConsulGrant} on its contender key
 * `<prefix>/<session>`, renewed with its session like a lock.
 *
 * Release deletes the contender, guarded like a lock's release (`[check-session S, check-index C,
 * delete]`, C being the contender's ModifyIndex as this grant left it, so a stale handle can never
 * delete a later permit's contender). That alone gives the permit back: a holder whose session
 * holds nothing under the prefix no longer counts, and the next admission prunes it from `.lock`.
 * The same transaction may tidy up too, judged on the newest listing of the prefix:
 *
 * - someone waits (the permit followed the prefix while it was held, because it was contended):
 *   hand the permit over — `cas .lock` (us out, the first waiter in) and `cas` the waiter's
 *   contender to `holding`, so the waiter is granted by this very write, without a request;
 * - nobody else was ever admitted since us, alone: delete `.lock` (`delete-cas` on our own
 *   admission's index), so an idle semaphore leaves nothing behind.
 *
 * When only the tidying part is refused (the listing was already stale), the plain release is sent
 * again on its own, and waiters admit themselves.
 *
 * Loss: as a lock's, on the contender key (its session ended, or the key is gone or not ours); and
 * `isHeld` also asks whether `.lock` still counts this session.
 * @module
 */
import { ConsulGrant, type GrantFacts, type GrantScope, releaseOps } from './grant.js';
import { type TxnOp, transaction } from './kv.js';
import { SEMAPHORE_FLAG_VALUE } from './native.js';
import { decodeLock, type GrantWrite, handover, semaphoreView } from './semaphore-view.js';
import type { TreeFollower } from './tree-feed.js';

/** What a permit knows besides a grant's facts. */
export interface PermitFacts extends GrantFacts {
  /** The semaphore's prefix and `.lock` key. */
  readonly prefix: string;
  readonly lockKey: string;
  /** The count this client declared (the one stored in `.lock`). */
  readonly permits: number;
  /** The index of the write that granted the permit (its contender's ModifyIndex). */
  readonly grantIndex: bigint;
  /** Admitted while no other holder counted and nobody else was admitted. */
  readonly alone: boolean;
  /** The prefix's listings, while the permit is held (when others contend for it). */
  readonly follower?: TreeFollower;
}

/** See the module comment. */
export class ConsulPermit extends ConsulGrant {
  readonly #facts: PermitFacts;

  constructor(scope: GrantScope, facts: PermitFacts) {
    super(scope, facts);
    this.#facts = facts;
  }

  /** One read-only transaction: our contender, and `.lock` counting our session. */
  protected override async heldOnServer(): Promise<boolean> {
    const { lockKey } = this.#facts;
    const ops: TxnOp[] = [
      { verb: 'get', key: this.key },
      { verb: 'get', key: lockKey },
    ];
    const outcome = await transaction(this.scope.http, ops, 'checking a permit');
    if (!outcome.committed) return false;
    const contender = outcome.entries.find((entry) => entry.key === this.key);
    const lock = outcome.entries.find((entry) => entry.key === lockKey);
    return contender?.session === this.session.id && decodeLock(lock).holders.includes(this.session.id);
  }

  protected override releaseOps(index: bigint, tidy: boolean): TxnOp[] {
    const ops = releaseOps(this.key, this.session.id, index);
    if (!tidy) return ops;
    const { lockKey } = this.#facts;
    const next = this.#handover();
    if (next) return [...ops, ...grantOps(lockKey, next)];
    // Unchanged since our admission, `.lock` counts nobody but us: deleting it frees nobody else.
    if (this.#facts.alone) ops.push({ verb: 'delete-cas', key: lockKey, index: this.#facts.grantIndex });
    return ops;
  }

  protected override settled(): void {
    this.#facts.follower?.close();
  }

  /** The handover the newest listing allows (none when it predates our own admission). */
  #handover() {
    const tree = this.#facts.follower?.latest();
    if (!tree || tree.index < this.#facts.grantIndex) return undefined;
    try {
      const view = semaphoreView(this.#facts.prefix, tree.index, tree.entries);
      return handover(view, this.session.id, this.#facts.permits);
    } catch {
      return undefined; // a listing it cannot judge: release plainly
    }
  }
}

/** A granting write as transaction operations: the CAS on `.lock`, and the contenders it grants. */
export function grantOps(lockKey: string, write: GrantWrite): TxnOp[] {
  const flags = SEMAPHORE_FLAG_VALUE;
  return [
    { verb: 'cas', key: lockKey, value: write.value, index: write.lockIndex, flags },
    ...write.others.map(({ key, value, index }): TxnOp => ({ verb: 'cas', key, value, index, flags })),
  ];
}
