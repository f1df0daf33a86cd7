/**
 * Elections on ZooKeeper, in the layout of Curator's `LeaderLatch`: every candidate creates one
 * EPHEMERAL_SEQUENTIAL child `_c_<uuid>-latch-<sequence>` of the election's node, holding its
 * value (UTF-8); the first child in sequence order leads, everyone else watches the child just
 * ahead — the lock recipe (`line.ts`) with another marker. The term is the leader's node's
 * czxid, so terms increase from leader to leader.
 *
 * - `proclaim` is one `setData` on our own node guarded by its version: it fails on the server
 *   when the node is gone (our session ended, we resigned) or was written by anyone else. A node
 *   that exists is still first (children are only ever added behind it), so the guard is the
 *   term's. On a native (Curator-shared) path it is refused with `UnsupportedError` (below).
 * - `leader()` lists the candidates and reads the first one's node, after a `multi(check /)`
 *   sent in the same round trip: it goes through the ZooKeeper leader, so the listing answered
 *   after it is at least as new as everything committed before the call (a plain read may lag).
 * - `observe` lists the candidates with a watch and reads the first one with a watch on its
 *   data, reads again after every event (or a slow fallback), and reports the state whenever it
 *   differs from the last one reported: a new leader, a proclaimed value, `null` when nobody
 *   stands. A state that lasts less than the round trip of one read may be skipped (ZooKeeper's
 *   watches fire once and carry no data): two proclaims in quick succession can arrive as the
 *   second one alone.
 * @module
 */
import { type NativeLockLocation, UnsupportedError } from '@lockstep/core';
import {
  type AcquireRequest,
  Backoff,
  type ElectionDriver,
  type ElectionRef,
  type LeadershipGrant,
  type LockRef,
  sleep,
} from '@lockstep/core/driver';
import type { Contender, LineShape } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import { ZkGrant } from './grant.js';
import { Alarm, WAIT_RECHECK } from './line.js';
import type { LockContext } from './locks.js';
import { child, electionLayout, LATCH_NAME, validateNativePath } from './paths.js';
import { headOf, LATCH_RULE } from './queue.js';
import { zxid } from './raw.js';
import type { ZkSession } from './session.js';
import type { SessionSource } from './source.js';

/**
 * Curator's `LeaderLatch` watches the candidate ahead of it for its deletion only, and a change of
 * that candidate's data uses the one-shot watch up: a value proclaimed on a shared latch path
 * would leave a Java candidate behind ours deaf to our resignation.
 */
const NATIVE_PROCLAIM = new UnsupportedError(
  'zookeeper',
  'proclaim on a native (Curator LeaderLatch) election',
  "a LeaderLatch candidate watching ours would miss our resignation after a change of our node's data",
);

/** Who leads, as observers see it. */
export interface LeaderState {
  readonly value: string;
  readonly term: bigint;
}

/** What the election driver needs from its coordinator. */
export interface ElectionContext extends LockContext {
  readonly source: SessionSource;
}

/** A leadership: our node first among the candidates. */
class ZkLeadership extends ZkGrant implements LeadershipGrant {
  readonly #node: Contender;
  /** The version our node's data is at: 0 as created, one more per proclaim. */
  #version = 0;
  /** Proclaims go one at a time: each names the version the one before it wrote. */
  #proclaiming: Promise<unknown> = Promise.resolve();

  constructor(ctx: LockContext, node: Contender, ttlMs: number) {
    super(ctx, node, ttlMs);
    this.#node = node;
  }

  proclaim(value: string): Promise<boolean> {
    if (this.#node.layout.native) return Promise.reject(NATIVE_PROCLAIM);
    const write = () => this.#write(value);
    const done = this.#proclaiming.then(write, write);
    this.#proclaiming = done.catch(() => {});
    return done;
  }

  async #write(value: string): Promise<boolean> {
    if (!this.held) return false;
    try {
      const stat = await this.#node.session.setData(this.path, Buffer.from(value, 'utf8'), this.#version);
      this.#version = stat.version;
      return this.held;
    } catch (error) {
      if (hasCode(error, Code.NO_NODE) || hasCode(error, Code.BAD_VERSION)) {
        // Someone else changed our node: we no longer lead as far as anyone can tell; step down.
        this.depose('was deleted or written by someone else (its version moved)');
        return false;
      }
      throw unavailable('proclaim', error);
    }
  }
}

/** Election operations over one coordinator's sessions. */
export class ZkElections implements ElectionDriver {
  readonly #ctx: ElectionContext;

  constructor(ctx: ElectionContext) {
    this.#ctx = ctx;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePath(native);
  }

  campaign(request: AcquireRequest<ElectionRef>, signal: AbortSignal): Promise<LeadershipGrant> {
    return this.#ctx.line.join(this.#shape(request.lock), request.ownerId, signal, this.#leads(request));
  }

  tryCampaign(request: AcquireRequest<ElectionRef>): Promise<LeadershipGrant | null> {
    return this.#ctx.line.tryJoin(this.#shape(request.lock), request.ownerId, this.#leads(request));
  }

  async leader(election: LockRef): Promise<LeaderState | null> {
    const { source, base } = this.#ctx;
    const { queue } = electionLayout(base, election);
    try {
      const session = source.current ?? (await source.ready());
      return await readLeader(session, queue, { fresh: true });
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
    const observer = new Observer(this.#ctx.source, electionLayout(this.#ctx.base, election).queue, onChange);
    await observer.start(signal);
  }

  #shape(election: ElectionRef): LineShape {
    return {
      layout: electionLayout(this.#ctx.base, election),
      rule: LATCH_RULE,
      marker: LATCH_NAME,
      data: Buffer.from(election.value, 'utf8'),
    };
  }

  #leads(request: AcquireRequest<ElectionRef>): (node: Contender) => ZkLeadership {
    return (node) => new ZkLeadership(this.#ctx, node, request.ttlMs);
  }
}

/**
 * The election's leader: its first candidate's value and czxid, `null` when there is none.
 * `fresh`: as of a `multi(check /)` through the ZooKeeper leader sent with the listing.
 * `watcher`: set on the candidates (or on the election's node while it does not exist) and on
 * the leader's node.
 */
async function readLeader(
  session: ZkSession,
  queue: string,
  options: { readonly fresh?: boolean; readonly watcher?: () => void },
): Promise<LeaderState | null> {
  const { fresh, watcher } = options;
  for (;;) {
    let children: string[];
    try {
      if (fresh) {
        const [synced, listed] = session.together(
          () =>
            [
              session.multi('sync through the leader', (tx) => tx.check('/', -1)),
              session.getChildren(queue, watcher),
            ] as const,
        );
        listed.catch(() => {});
        await synced;
        children = await listed;
      } else children = await session.getChildren(queue, watcher);
    } catch (error) {
      if (!hasCode(error, Code.NO_NODE)) throw error;
      // No election node: nobody stands. A watch on children cannot be set on a missing node;
      // one on its existence hears of its creation.
      if (!watcher || (await session.exists(queue, watcher)) === null) return null;
      continue;
    }
    const head = headOf(children, LATCH_RULE.markers);
    if (head === undefined) return null;
    try {
      const { data, stat } = await session.getData(child(queue, head), watcher);
      return { value: data.toString('utf8'), term: zxid(stat.czxid) };
    } catch (error) {
      // The leader left between the listing and the read: list again.
      if (!hasCode(error, Code.NO_NODE)) throw error;
    }
  }
}

/** One `observe()`: reads after every watch event and reports each state that differs from the last. */
class Observer {
  readonly #source: SessionSource;
  readonly #queue: string;
  readonly #onChange: (leader: LeaderState | null) => void;
  #told: LeaderState | null | undefined;
  #alarm: Alarm | undefined;
  #session: ZkSession | undefined;

  constructor(source: SessionSource, queue: string, onChange: (leader: LeaderState | null) => void) {
    this.#source = source;
    this.#queue = queue;
    this.#onChange = onChange;
  }

  /** Reports the current state, then keeps watching in the background until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    try {
      this.#tell(await this.#read(signal));
    } catch (error) {
      if (signal.aborted) return;
      throw unavailable('observe', error);
    }
    void this.#watch(signal);
  }

  async #watch(signal: AbortSignal): Promise<void> {
    let fallbackMs: number = WAIT_RECHECK.initialMs;
    const backoff = new Backoff(100, 5_000);
    while (!signal.aborted) {
      // The read before set the watches; a lost session wakes us to read on the next one.
      const woke = await this.#alarm!.wait(fallbackMs, signal);
      fallbackMs = woke ? WAIT_RECHECK.initialMs : Math.min(fallbackMs * 2, WAIT_RECHECK.maxMs);
      if (signal.aborted) return;
      try {
        this.#tell(await this.#read(signal));
        backoff.reset();
      } catch {
        // Unreachable for now: try again (watching goes on until the caller stops it).
        await sleep(backoff.next(), signal).catch(() => {});
      }
    }
  }

  async #read(signal: AbortSignal): Promise<LeaderState | null> {
    const session = this.#source.current ?? (await this.#source.ready(signal));
    if (session !== this.#session) {
      this.#session = session;
      this.#alarm = new Alarm(session);
    }
    return readLeader(session, this.#queue, { watcher: this.#alarm!.watcher });
  }

  #tell(state: LeaderState | null): void {
    const told = this.#told;
    if (told !== undefined && told?.term === state?.term && told?.value === state?.value) return;
    this.#told = state;
    this.#onChange(state);
  }
}
