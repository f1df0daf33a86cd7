/**
 * Consul elections, as Consul documents leader election: the election is one KV key
 * (`<prefix>/election/<name>`); a candidate acquires it with its session, writing its value, and
 * leads while its session holds it; followers block on the key and try again when no session
 * holds it. There is no queue: any woken candidate may win (`fairness: 'none'`).
 *
 * Terms. The term is the key's CreateIndex. A leadership always creates the key — the acquire is
 * `[check-not-exists K, lock K, get K]`, and a key left behind unheld by someone else is deleted in
 * the same transaction that takes it (`[delete-cas K I, lock K, get K]`) — and the key is deleted
 * when a leadership ends (resign deletes it; so does Consul, session Behavior `delete`, when the
 * session is invalidated). Each creation is a write at a new Raft index, so terms strictly
 * increase, and a proclaimed value (a CAS) leaves the term as it was.
 *
 * Observing is one blocking query on the key. Its answers are states, not a log: a leader that
 * came and went between two answers is not seen. A vacancy always is: two different terms mean the
 * key was deleted in between, so an observer told of a new term without a vacancy first is told of
 * the vacancy it missed.
 * @module
 */
import {
  type AcquireRequest,
  backendFailure,
  type ElectionDriver,
  type ElectionRef,
  type LockRef,
  type SessionPool,
  WATCHED_RECHECK,
} from '@lockstep/core/driver';
import { followKey, type KeyState, keyReading } from './blocking.js';
import type { GrantFacts, GrantScope } from './grant.js';
import type { KvEntry } from './json.js';
import { electionKey, kvPath } from './keys.js';
import { readKey, transaction } from './kv.js';
import { ConsulLeadership } from './leadership.js';
import { type Attempt, ConsulLocks, taken } from './locks.js';
import { assertSessionTtl, type ConsulSession } from './session.js';

/** Who leads, as the election's key shows it. */
type Leader = { readonly value: string; readonly term: bigint } | null;

/** The election half of the Consul driver. */
export class ConsulElections implements ElectionDriver {
  readonly #keys: LeaderKeys;
  readonly #scope: GrantScope;
  readonly #waitMs: number;

  /** `waitMs`: the `wait` of the observers' blocking queries. */
  constructor(scope: GrantScope, sessions: SessionPool<ConsulSession>, waitMs: number) {
    this.#scope = scope;
    this.#keys = new LeaderKeys(scope, sessions);
    this.#waitMs = waitMs;
  }

  tryCampaign(request: AcquireRequest<ElectionRef>): Promise<ConsulLeadership | null> {
    return this.#keys.lead(request);
  }

  /**
   * Tries, then sleeps on the key's blocking query (the one release watch per key and
   * coordinator that lock waiters use) until no session holds it, and tries again.
   */
  async campaign(request: AcquireRequest<ElectionRef>, signal: AbortSignal): Promise<ConsulLeadership> {
    const watch = this.#scope.watches.watch(electionKey(request.lock));
    let granted = false;
    let fallbackMs = WATCHED_RECHECK.initialMs;
    try {
      for (;;) {
        signal.throwIfAborted();
        const leadership = await this.#keys.lead(request);
        if (leadership) {
          if (signal.aborted) {
            // Won as the wait was given up: step down at once, so nothing is left leading.
            await leadership.release().catch(() => {});
            throw signal.reason;
          }
          granted = true;
          return leadership;
        }
        await watch.next(fallbackMs, signal);
        fallbackMs = Math.min(fallbackMs * 2, WATCHED_RECHECK.maxMs);
      }
    } finally {
      watch.close(granted);
    }
  }

  async leader(election: LockRef): Promise<Leader> {
    return leaderOf(await readKey(this.#scope.http, electionKey(election), 'reading the leader'));
  }

  /** One read (the current state, told at once), then the key's blocking query from that read on. */
  async observe(election: LockRef, onChange: (leader: Leader) => void, signal: AbortSignal): Promise<void> {
    const { http } = this.#scope;
    const key = electionKey(election);
    let last: Leader | undefined;
    const tell = (state: KeyState) => {
      const leader = state.exists ? leaderOf(state.entry) : null;
      if (last !== undefined && sameLeader(last, leader)) return;
      // A new term means the key was deleted and created again: there was a vacancy between.
      if (last && leader && last.term !== leader.term) onChange(null);
      last = leader;
      onChange(leader);
    };
    let reply: Awaited<ReturnType<typeof http.send>>;
    try {
      reply = await http.send({ method: 'GET', path: kvPath(key), signal, doing: 'reading the leader' });
    } catch (error) {
      throw backendFailure('consul', 'observing an election', error);
    }
    tell(keyReading(http, key)(reply).state);
    void followKey(http, {
      key,
      startIndex: reply.index ?? 0n,
      waitMs: this.#waitMs,
      signal,
      onState: tell,
    });
  }
}

/** The election key taken like a lock's, with an election's acquire, value and term. */
class LeaderKeys extends ConsulLocks {
  lead({ lock, ttlMs }: AcquireRequest<ElectionRef>): Promise<ConsulLeadership | null> {
    assertSessionTtl(ttlMs);
    return this.take(electionKey(lock), false, lock.value, ttlMs) as Promise<ConsulLeadership | null>;
  }

  /** The term is the CreateIndex of the key this leadership created. */
  protected override grant(facts: GrantFacts, entry: KvEntry): ConsulLeadership {
    return new ConsulLeadership(this.scope, {
      ...facts,
      token: entry.createIndex,
      keyIndex: entry.modifyIndex,
    });
  }

  /**
   * One request when nobody leads: `[check-not-exists, lock, get]`. Refused, a read says why; a key
   * that exists but that no session holds is taken by deleting and creating it in one transaction.
   */
  protected override async attempt(session: ConsulSession, key: string, value: string): Promise<Attempt> {
    const { http } = this.scope;
    const take = { verb: 'lock', key, value, session: session.id } as const;
    let sentAt = performance.now();
    const fresh = await transaction(
      http,
      [{ verb: 'check-not-exists', key }, take, { verb: 'get', key }],
      'campaigning',
    );
    if (fresh.committed) return taken(session, fresh.entries, sentAt);
    const now = await readKey(http, key, 'reading the leader');
    if (now === undefined || now.session !== '') return this.diagnose(session, now);
    sentAt = performance.now();
    const ops = [
      { verb: 'delete-cas', key, index: now.modifyIndex } as const,
      take,
      { verb: 'get', key } as const,
    ];
    const renewed = await transaction(http, ops, 'campaigning');
    if (renewed.committed) return taken(session, renewed.entries, sentAt);
    return this.diagnose(session, await readKey(http, key, 'reading the leader'));
  }
}

/** The leader a key shows: the holding session's value and the key's CreateIndex; `null` if unheld. */
function leaderOf(entry: KvEntry | undefined): Leader {
  if (entry === undefined || entry.session === '') return null;
  return { value: entry.value.toString('utf8'), term: entry.createIndex };
}

function sameLeader(a: Leader, b: Leader): boolean {
  return a === null || b === null ? a === b : a.term === b.term && a.value === b.value;
}
