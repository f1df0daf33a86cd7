/**
 * Elections, after etcd's `concurrency.Election`: every candidate is one key under the
 * election's prefix, on its coordinator's lease, holding its value; the key with the smallest
 * create revision leads, and the term is that create revision (so terms increase from leader to
 * leader: a later leader's key was created after the earlier one's). A candidate waits exactly
 * as a lock's contender does, watching the key just ahead.
 *
 * Round trips:
 * - campaign, tryCampaign: the lock's (ONE conditional put when nobody stands; else ONE put
 *   that reads the candidate just ahead, then a wait).
 * - proclaim: ONE transaction that writes our value only if our key still has our create
 *   revision (it is refused once our lease ended or we resigned; a key that exists is still the
 *   oldest, since candidates only ever join behind it). The key keeps its lease.
 * - leader: ONE linearizable read of the oldest key.
 * - observe: ONE read of every candidate (keys, revisions, values), then ONE watch of the prefix
 *   from the revision after that read, applied event by event: every change is reported in
 *   order, including vacancies (`null` once the last candidate is gone), which etcd's own
 *   `Observe` never reports. A broken watch (or one compacted past its start) reads again.
 * - resign: ONE delete of our key.
 *
 * At a native location (`election(name, { native: PREFIX })`) the keys are
 * `concurrency.Election`'s own (`PREFIX/<lease id in hex>`, value = the candidate's value), and
 * its algorithm is the one above (oldest create revision leads, proclaim guarded by the create
 * revision, resign deletes the key), so lockstep candidates and `etcdctl elect PREFIX` share one
 * election and observers on either side see both.
 * @module
 */

import type { NativeLockLocation } from '@lockstep/core';
import {
  type AcquireRequest,
  Backoff,
  type ElectionDriver,
  type ElectionRef,
  type LeadershipGrant,
  type LockRef,
  sleep,
} from '@lockstep/core/driver';
import { CompareResult, CompareTarget, type IEvent, type IKeyValue, SortOrder, SortTarget } from 'etcd3';
import { unavailable } from './errors.js';
import { EtcdGrant, type GrantContext, type Seat } from './grant.js';
import { electionQueue, validateNativePrefix } from './keys.js';
import { EtcdQueues } from './locks.js';
import type { EtcdRpc } from './rpc.js';
import { isDelete } from './watch.js';

/** Who leads: the oldest candidate's value, and its key's create revision. */
export interface LeaderState {
  readonly value: string;
  readonly term: bigint;
}

/** A leadership: our key, the oldest among the candidates. */
class EtcdLeadership extends EtcdGrant implements LeadershipGrant {
  readonly #rpc: EtcdRpc;

  constructor(ctx: GrantContext, seat: Seat, key: string, token: bigint, name: string) {
    super(ctx, seat, key, token, name);
    this.#rpc = ctx.rpc;
  }

  async proclaim(value: string): Promise<boolean> {
    const key = this.#rpc.key(this.key);
    try {
      const res = await this.#rpc.txn(
        {
          compare: [
            {
              key,
              target: CompareTarget.Create,
              result: CompareResult.Equal,
              create_revision: this.fencingToken.toString(),
            },
          ],
          success: [{ request_put: { key, value: Buffer.from(value, 'utf8'), ignore_lease: true } }],
          failure: [],
        },
        'proclaim',
      );
      return res.succeeded;
    } catch (error) {
      throw unavailable('proclaim', error);
    }
  }
}

/** The elections of one coordinator. */
export class EtcdElections implements ElectionDriver {
  readonly #ctx: GrantContext;
  readonly #candidates: EtcdQueues<ElectionRef, EtcdLeadership>;

  constructor(ctx: GrantContext) {
    this.#ctx = ctx;
    this.#candidates = new EtcdQueues<ElectionRef, EtcdLeadership>(
      ctx,
      (election) => {
        const layout = electionQueue(election);
        return { layout, holdsBack: layout.queue, value: Buffer.from(election.value, 'utf8') };
      },
      (grantCtx, seat, key, token, request) =>
        new EtcdLeadership(grantCtx, seat, key, token, request.lock.name),
    );
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePrefix(native);
  }

  campaign(request: AcquireRequest<ElectionRef>, signal: AbortSignal): Promise<LeadershipGrant> {
    return this.#candidates.acquire(request, signal);
  }

  tryCampaign(request: AcquireRequest<ElectionRef>): Promise<LeadershipGrant | null> {
    return this.#candidates.tryAcquire(request);
  }

  async leader(election: LockRef): Promise<LeaderState | null> {
    const { rpc } = this.#ctx;
    const { queue } = electionQueue(election);
    try {
      const { kvs } = await rpc.range(
        {
          key: rpc.key(queue),
          range_end: rpc.prefixEnd(queue),
          sort_target: SortTarget.Create,
          sort_order: SortOrder.Ascend,
          limit: 1,
        },
        'leader',
      );
      return kvs[0] ? stateOf(kvs[0]) : null;
    } catch (error) {
      throw unavailable('leader', error);
    }
  }

  async observe(
    election: LockRef,
    onChange: (leader: LeaderState | null) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) return;
    const observer = new Observer(this.#ctx, electionQueue(election).queue, onChange, signal);
    try {
      await observer.read();
    } catch (error) {
      if (signal.aborted) return;
      throw unavailable('observe', error);
    }
  }
}

/** One `observe()`: the candidates as last read, kept current by the prefix's events. */
class Observer {
  readonly #ctx: GrantContext;
  readonly #queue: string;
  readonly #onChange: (leader: LeaderState | null) => void;
  readonly #signal: AbortSignal;
  /** Every candidate's key (latin1) → its create revision and value. */
  readonly #candidates = new Map<string, LeaderState>();
  #told: LeaderState | null | undefined;
  #cancel: (() => void) | undefined;

  constructor(
    ctx: GrantContext,
    queue: string,
    onChange: (leader: LeaderState | null) => void,
    signal: AbortSignal,
  ) {
    this.#ctx = ctx;
    this.#queue = queue;
    this.#onChange = onChange;
    this.#signal = signal;
    signal.addEventListener('abort', () => this.#cancel?.(), { once: true });
  }

  /** Reads every candidate, reports the leader if it changed, and watches from just after the read. */
  async read(): Promise<void> {
    const { rpc, watches } = this.#ctx;
    const [key, rangeEnd] = [rpc.key(this.#queue), rpc.prefixEnd(this.#queue)];
    const res = await rpc.range({ key, range_end: rangeEnd }, 'observe');
    if (this.#signal.aborted) return;
    this.#candidates.clear();
    for (const kv of res.kvs) this.#candidates.set(kv.key.toString('latin1'), stateOf(kv));
    this.#tell();
    this.#cancel = watches.watchRange(key, rangeEnd, BigInt(res.header.revision) + 1n, {
      events: (events) => this.#apply(events),
      broken: () => void this.#again(),
    });
  }

  #apply(events: readonly IEvent[]): void {
    for (const event of events) {
      const key = event.kv.key.toString('latin1');
      if (isDelete(event)) this.#candidates.delete(key);
      else this.#candidates.set(key, stateOf(event.kv));
      this.#tell();
    }
  }

  /** After a broken watch: reads again (retrying while unreachable) until the caller stops. */
  async #again(): Promise<void> {
    const backoff = new Backoff(100, 5_000);
    while (!this.#signal.aborted) {
      try {
        await this.read();
        return;
      } catch {
        await sleep(backoff.next(), this.#signal).catch(() => {});
      }
    }
  }

  /** Reports the leader (the oldest candidate) when it differs from the one reported last. */
  #tell(): void {
    let leader: LeaderState | null = null;
    for (const candidate of this.#candidates.values()) {
      if (leader === null || candidate.term < leader.term) leader = candidate;
    }
    const told = this.#told;
    if (told !== undefined && told?.term === leader?.term && told?.value === leader?.value) return;
    this.#told = leader;
    this.#onChange(leader);
  }
}

function stateOf(kv: IKeyValue): LeaderState {
  return { value: kv.value.toString('utf8'), term: BigInt(kv.create_revision) };
}
