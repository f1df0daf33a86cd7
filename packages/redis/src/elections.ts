/**
 * Elections on one Redis server (`redis://`, `rediss://`).
 *
 * A candidacy is a queued lease (`queued.ts`) where every candidate declares 1: candidates
 * wait in arrival order, the head leads as soon as the lease is free, and the term is the
 * grant's fencing token, from a counter that only grows. The acquire script writes the
 * leader's record (owner, term, version, value) and publishes it; `proclaim` is a script that
 * writes the value only while this owner's lease is live; a release or a lapsed lease dropped
 * by a script publishes the vacancy (`election-scripts.ts`). Round trips: campaign 1 when the
 * election is free, proclaim 1, resign 1, leader() 1.
 *
 * Observers listen on the election's channel (one subscriber connection per coordinator,
 * shared with the locks' wake-ups) and re-read the record once on subscribing, after a
 * reconnect, and when the lease they last heard of ends — a lease that lapses publishes
 * nothing at that instant, so that re-read is how its vacancy is seen.
 * @module
 */
import type {
  AcquireRequest,
  ElectionDriver,
  ElectionRef,
  LeadershipGrant,
  LeaseGrant,
  LockRef,
} from '@lockstep/core/driver';
import type { KeyBatch } from './batch.js';
import { ELECTION_SCRIPTS, LEADER, PROCLAIM } from './election-scripts.js';
import { answer } from './errors.js';
import { cachedElectionKeys } from './keys.js';
import type { LossMonitor } from './loss-monitor.js';
import { queuedLeases } from './queued.js';
import type { ReleaseFeed } from './release-feed.js';

/** A leader as observers see it. */
interface Leader {
  readonly value: string;
  readonly term: bigint;
}

/** What the record or a message said: a live leader (with how long its lease lasts), or a vacancy after `term`. */
type Seen =
  | { readonly term: bigint; readonly version: number; readonly leftMs: number; readonly value: string }
  | { readonly term: bigint; readonly vacant: true };

/** How long an observer waits before reading again after a failed read. */
const RETRY_READ_MS = 500;

/** Reads a `{1, term, version, ms left, value}` or `{0, last term}` reply of {@link LEADER}. */
function readLeader(reply: unknown): Seen {
  const [live, term, version, leftMs, value] = reply as [number, string, string, number, string];
  if (Number(live) !== 1) return { term: BigInt(term), vacant: true };
  return { term: BigInt(term), version: Number(version), leftMs: Number(leftMs), value };
}

/** Reads an `l <term> <version> <ms left> <value>` or `v <term>` message; `undefined` for others. */
function readMessage(message: string): Seen | undefined {
  if (message.startsWith('v ')) return { term: BigInt(message.slice(2)), vacant: true };
  if (!message.startsWith('l ')) return undefined;
  const [term, version, leftMs] = message.slice(2).split(' ', 3) as [string, string, string];
  const value = message.slice(2 + term.length + version.length + leftMs.length + 3);
  return { term: BigInt(term), version: Number(version), leftMs: Number(leftMs), value };
}

/**
 * What one observer was told, so that it is told every change once and in order, whichever
 * way the news came (a message, or a read that crossed one). States are ordered by term, then
 * version, and a term's vacancy after every version of it. A new term is granted only once the
 * lease is free, so between two leaders there was always a vacancy: it is told even when the
 * observer heard of the next leader first.
 */
export class LeaderView {
  readonly #tell: (leader: Leader | null) => void;
  #told: { readonly term: bigint; readonly version: number } | undefined;

  constructor(tell: (leader: Leader | null) => void) {
    this.#tell = tell;
  }

  /** Takes in what was seen; returns whether it is the state told last (a live leader's lease to time). */
  offer(seen: Seen): boolean {
    const version = 'vacant' in seen ? Number.POSITIVE_INFINITY : seen.version;
    const told = this.#told;
    if (told && (seen.term < told.term || (seen.term === told.term && version < told.version))) return false;
    if (told && seen.term === told.term && version === told.version) return true;
    const wasLeading = told !== undefined && told.version !== Number.POSITIVE_INFINITY;
    this.#told = { term: seen.term, version };
    if ('vacant' in seen) {
      if (told === undefined || wasLeading) this.#tell(null);
      return true;
    }
    if (wasLeading && told.term < seen.term) this.#tell(null);
    this.#tell({ value: seen.value, term: seen.term });
    return true;
  }
}

const isOne = (reply: unknown) => Number(reply) === 1;

/** The election half of the single-instance driver. */
export function singleInstanceElections(
  batch: KeyBatch,
  feed: ReleaseFeed,
  monitor: LossMonitor,
): ElectionDriver {
  const { client } = batch;
  const candidacies = queuedLeases<ElectionRef>(batch, feed, monitor, {
    keysOf: cachedElectionKeys,
    declared: () => 1,
    scripts: ELECTION_SCRIPTS,
    extraArgs: (ref) => [ref.value],
  });

  const leadership = (grant: LeaseGrant, request: AcquireRequest<ElectionRef>): LeadershipGrant => {
    const keys = cachedElectionKeys(request.lock);
    return {
      ...grant,
      fencingToken: grant.fencingToken!,
      proclaim: (value) =>
        answer(
          PROCLAIM.run(client, [keys.holders, keys.leader], [request.ownerId, keys.channel, value]),
          'proclaim',
          isOne,
        ),
    };
  };

  const read = (ref: LockRef): Promise<Seen> => {
    const keys = cachedElectionKeys(ref);
    return answer(LEADER.run(client, [keys.holders, keys.leader, keys.fence], []), 'leader', readLeader);
  };

  return {
    tryCampaign: (request) =>
      candidacies.tryAcquire(request).then((grant) => grant && leadership(grant, request)),
    campaign: (request, signal) =>
      candidacies.acquire(request, signal).then((grant) => leadership(grant, request)),
    leader: (ref) =>
      read(ref).then((seen) => ('vacant' in seen ? null : { value: seen.value, term: seen.term })),

    async observe(ref, onChange, signal) {
      if (signal.aborted) return;
      const view = new LeaderView(onChange);
      let timer: NodeJS.Timeout | undefined;
      const later = (ms: number) => {
        clearTimeout(timer);
        if (signal.aborted) return;
        timer = setTimeout(() => void refresh().catch(() => later(RETRY_READ_MS)), ms);
        timer.unref();
      };
      const take = (seen: Seen) => {
        if (signal.aborted || !view.offer(seen)) return;
        // +1 ms: the server drops a lease once its deadline has passed; read just after.
        if ('vacant' in seen) clearTimeout(timer);
        else later(seen.leftMs + 1);
      };
      const refresh = () => read(ref).then(take);
      const listener = feed.listen(cachedElectionKeys(ref).channel, {
        onMessage: (message) => {
          const seen = readMessage(message);
          if (seen) take(seen);
        },
        onGap: () => void refresh().catch(() => later(RETRY_READ_MS)),
      });
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          listener.close();
        },
        { once: true },
      );
      try {
        await listener.subscribed;
        await refresh();
      } catch (error) {
        clearTimeout(timer);
        listener.close();
        throw error;
      }
    },
  };
}
