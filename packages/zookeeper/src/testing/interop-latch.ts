/**
 * `interop.curator.leader-latch`: `election(name, { native: PATH })` campaigns exactly where
 * Apache Curator's `LeaderLatch(client, PATH, id)` does — `_c_<uuid>-latch-<seq>` children
 * holding the candidate's id (lockstep's value), the first one leading — so a Java service and
 * lockstep clients elect one leader together: each sees the other's leader (and value) as the
 * leader, waits behind it, leads after it with a larger term (the leader node's czxid), and
 * lockstep's observers follow the leaders of both sides. `proclaim` is refused on such a path: a
 * changed value would use up the watch of a Curator candidate behind ours.
 * @module
 */
import {
  check,
  checkEqual,
  expectRejection,
  type InteropContext,
  type InteropScenario,
} from '@lockstep/conformance/interop';
import { type LeaderInfo, UnsupportedError } from '@lockstep/core';
import { curatorService, curatorToken } from './curator.js';
import { childrenUntil } from './raw.js';

const CANDIDATE = /^_c_[0-9a-f-]{36}-latch-\d{10}$/;

/** Reads an observer's next state within `ms`. */
async function nextState(
  iterator: AsyncIterator<LeaderInfo | null>,
  ms = 15_000,
): Promise<LeaderInfo | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const next = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the observer saw no change within ${ms} ms`)), ms);
      }),
    ]);
    check(!next.done, 'the observer ended');
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}

const show = (state: LeaderInfo | null) => (state ? `${state.value}@${state.term}` : 'none');

/** Curator leads: lockstep sees it, waits behind it, and leads after it with a larger term. */
async function curatorLeads(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-latch')}`;
  const java = await curatorService(url, ctx, ['latch', path, 'java-1']);
  checkEqual(await java.ask('start'), 'started', "Curator's latch start");
  const javaTerm = curatorToken(await java.ask('await'));
  const node = await ctx.open();
  const election = node.election('scheduler', { native: path });
  checkEqual(show(await election.leader()), `java-1@${javaTerm}`, 'the leader lockstep sees');
  const stop = new AbortController();
  ctx.defer(() => stop.abort());
  const observed = election.observe({ signal: stop.signal });
  checkEqual(show(await nextState(observed)), `java-1@${javaTerm}`, "an observer's first state");
  check(
    (await election.campaign({ value: 'node-1', waitMs: 0 }).catch(() => null)) === null,
    'lockstep led beside Curator',
  );
  const campaign = election.campaign({ value: 'node-1', waitMs: 30_000 });
  campaign.catch(() => {});
  const candidates = await childrenUntil(url, path, 2);
  checkEqual(candidates.length, 2, 'candidates (Curator and lockstep)');
  for (const name of candidates)
    check(CANDIDATE.test(name), `candidate "${name}" is not named as Curator names it`);
  checkEqual(await java.ask('close'), 'closed', "Curator's latch close");
  const leadership = await campaign;
  check(leadership.term > javaTerm, `lockstep's term ${leadership.term} not above Curator's ${javaTerm}`);
  checkEqual(
    show(await nextState(observed)),
    `node-1@${leadership.term}`,
    'the observer after Curator stepped down',
  );

  // Curator now sees lockstep's leader and its value, and waits behind it.
  checkEqual(await java.ask('start'), 'started', "Curator's second latch start");
  checkEqual(await java.ask('has'), 'follower', 'Curator while lockstep leads');
  checkEqual(await java.ask('leader'), 'leader-is node-1', 'the leader Curator sees');
  // A changed value would use up the watch of the Curator candidate behind ours: refused, still leading.
  await expectRejection(
    leadership.proclaim('node-1:9090'),
    UnsupportedError,
    'proclaim on a LeaderLatch path',
  );
  checkEqual(leadership.state, 'leading', 'the leadership after a refused proclaim');
  java.send('await');
  const javaLeads = java.next(30_000);
  javaLeads.catch(() => {});
  await leadership.resign();
  const nextTerm = curatorToken(await javaLeads);
  check(nextTerm > leadership.term, `Curator's term ${nextTerm} not above lockstep's ${leadership.term}`);
  checkEqual(show(await nextState(observed)), `java-1@${nextTerm}`, 'the observer after lockstep resigned');
  checkEqual(await java.ask('close'), 'closed', "Curator's latch close");
  checkEqual(await nextState(observed), null, 'the observer once nobody stands');
}

/** lockstep leads: a Curator latch follows it, and takes over when lockstep's coordinator closes. */
async function lockstepLeads(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-latch')}`;
  const leaderNode = await ctx.open();
  const leadership = await leaderNode.election('scheduler', { native: path }).campaign({ value: 'node-1' });
  const java = await curatorService(url, ctx, ['latch', path, 'java-1']);
  checkEqual(await java.ask('start'), 'started', "Curator's latch start");
  checkEqual((await childrenUntil(url, path, 2)).length, 2, 'candidates (lockstep and Curator)');
  checkEqual(await java.ask('has'), 'follower', 'Curator while lockstep leads');
  java.send('await');
  const javaLeads = java.next(30_000);
  javaLeads.catch(() => {});
  // Closing the coordinator ends its session: its candidate goes with it.
  await leaderNode.close();
  const term = curatorToken(await javaLeads);
  check(term > leadership.term, `Curator's term ${term} not above lockstep's ${leadership.term}`);
  const observer = await ctx.open();
  checkEqual(
    show(await observer.election('scheduler', { native: path }).leader()),
    `java-1@${term}`,
    'the leader lockstep sees after the handover',
  );
  checkEqual(await java.ask('close'), 'closed', "Curator's latch close");
}

/** The `LeaderLatch` scenarios. */
export const LEADER_LATCH_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.curator.leader-latch',
    title:
      'Curator leads: lockstep sees it and its id, waits behind it, and leads after it with a larger term',
    timeoutMs: 180_000,
    run: (target, ctx) => curatorLeads(target.url, ctx),
  },
  {
    id: 'interop.curator.leader-latch',
    title:
      'lockstep leads: a Curator latch follows it and takes over with a larger term when lockstep closes',
    timeoutMs: 180_000,
    run: (target, ctx) => lockstepLeads(target.url, ctx),
  },
];
