/**
 * Everything the emulated server knows, behind one Raft-like index: KV entries, sessions and
 * lock-delays. Every write takes the next index; the KV and session tables remember the last index
 * that changed them (that is what blocking queries compare against).
 */
import { ChangeFeed } from './change-feed.js';
import { KvStore } from './kv-store.js';
import { applyKvOperation, type KvOperation, type KvOutcome } from './kv-verbs.js';
import { LockDelays } from './lock-delay.js';
import type { ResolvedOptions } from './options.js';
import { type SessionRecord, type SessionSpec, SessionTable } from './sessions.js';

export class ConsulState {
  readonly kv = new KvStore();
  readonly sessions: SessionTable;
  readonly lockDelays: LockDelays;
  readonly changes = new ChangeFeed();
  #raftIndex = 0;

  constructor(options: ResolvedOptions) {
    this.lockDelays = new LockDelays(options.clock);
    this.sessions = new SessionTable(options.clock, options.invalidationFactor, (id) =>
      this.destroySession(id),
    );
  }

  /** Takes the next index. Like a Raft log entry, a write consumes one even if its checks fail. */
  nextIndex(): number {
    this.#raftIndex += 1;
    return this.#raftIndex;
  }

  createSession(spec: SessionSpec): SessionRecord {
    const record = this.sessions.create(spec, this.nextIndex());
    this.changes.notify();
    return record;
  }

  /**
   * Invalidates a session (explicit destroy or TTL expiry): its held locks are released or deleted
   * according to its behavior, and each of those keys enters the session's lock-delay
   * (Sessions overview › Session Design). Unknown IDs are a no-op.
   */
  destroySession(id: string): void {
    const index = this.nextIndex();
    const session = this.sessions.remove(id, index);
    if (!session) return;
    const txn = this.kv.begin(index);
    const delayMs = session.lockDelayNs / 1e6;
    for (const key of this.kv.keysHeldBy(id)) {
      const entry = this.kv.get(key);
      if (!entry) continue;
      if (session.behavior === 'delete') txn.delete(key);
      else txn.put({ ...entry, session: '', modifyIndex: index });
      this.lockDelays.start(key, delayMs);
    }
    txn.commit();
    this.changes.notify();
  }

  /**
   * Runs KV operations atomically. A read-only batch runs without taking an index; a batch with
   * writes takes one index shared by all its writes and commits only if every operation succeeded.
   */
  runKv(operations: readonly KvOperation[], hasWrites: boolean): KvOutcome[] {
    const txn = this.kv.begin(hasWrites ? this.nextIndex() : 0);
    const outcomes = operations.map((operation) => applyKvOperation(txn, this.sessions, operation));
    if (hasWrites && outcomes.every((outcome) => outcome.status === 'ok') && txn.commit()) {
      this.changes.notify();
    }
    return outcomes;
  }

  /** Stops timers and releases blocked queries. */
  close(): void {
    this.sessions.close();
    this.changes.releaseAll();
  }
}
