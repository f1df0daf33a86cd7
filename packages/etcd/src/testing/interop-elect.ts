/**
 * interop.etcdctl.elect: an election at a native location (`election(name, { native: PREFIX })`)
 * and `etcdctl elect PREFIX` (etcd's own `concurrency.Election`, the real binary) are one
 * election. Whoever stood first leads and the other waits behind it; each side's leader is the
 * other side's `leader()` / `elect -l`, with the term etcd gave it (its key's create revision);
 * proclaims and resignations are seen across; lockstep's key is where `concurrency.Election`
 * puts its own (`PREFIX/<lease id in hex>`, the value being the candidate's).
 *
 * `etcdctl elect` resigns on SIGINT (and its observer stops); it is never SIGKILLed while it
 * leads, which would leave its key behind for the 60 s of its session.
 * @module
 */

import {
  check,
  checkEqual,
  delay,
  type InteropContext,
  type InteropScenario,
} from '@lockstep/conformance/interop';
import type { Election, LeaderInfo } from '@lockstep/core';
import { type EtcdctlProcess, etcdctl, etcdctlPath, location } from './etcdctl.js';
import { rawClient } from './raw.js';

/** The keys under `prefix/`, oldest first, read with a raw client. */
async function candidatesOf(url: string, ctx: InteropContext, prefix: string) {
  const raw = rawClient(url);
  ctx.defer(() => raw.close());
  const { kvs } = await raw.getAll().prefix(`${prefix}/`).sort('Create', 'Ascend').exec();
  return kvs.map((kv) => ({
    key: kv.key.toString(),
    value: kv.value.toString(),
    lease: BigInt(kv.lease),
    term: BigInt(kv.create_revision),
  }));
}

/** Polls the raw keys until `count` candidates stand (a peer's campaign has no output of its own). */
async function untilCandidates(url: string, ctx: InteropContext, prefix: string, count: number) {
  for (let i = 0; i < 250; i++) {
    const kvs = await candidatesOf(url, ctx, prefix);
    if (kvs.length >= count) return kvs;
    await delay(20);
  }
  throw new Error(`fewer than ${count} candidates stood under ${prefix}/ within 5 s`);
}

/** Every state `election.observe()` reports, until the scenario ends. */
function observeAll(election: Election, ctx: InteropContext): Array<LeaderInfo | null> {
  const seen: Array<LeaderInfo | null> = [];
  const stop = new AbortController();
  ctx.defer(() => stop.abort());
  void (async () => {
    try {
      for await (const state of election.observe({ signal: stop.signal })) seen.push(state);
    } catch {
      // Ends when the scenario does.
    }
  })();
  return seen;
}

/** Resigns an `etcdctl elect` (SIGINT) and checks it exited cleanly. */
async function interrupt(peer: EtcdctlProcess, what: string): Promise<void> {
  peer.child.kill('SIGINT');
  checkEqual(await peer.exited, 0, `${what}'s exit code after SIGINT (${peer.stderr()})`);
}

/** etcdctl leads; lockstep waits behind it, sees it as leader, and leads once it resigns. */
async function etcdctlLeadsFirst(url: string, ctx: InteropContext): Promise<void> {
  const prefix = location(ctx, 'elect-etcdctl-first');
  const peer = etcdctl(ctx, url, ['elect', prefix, 'peer-a']);
  await peer.seen('peer-a', 15_000);
  const [theirs, ...others] = await candidatesOf(url, ctx, prefix);
  checkEqual(others.length, 0, 'other candidates while etcdctl alone stands');
  checkEqual(peer.lines[0]?.line, theirs!.key, 'the leader key etcdctl printed');

  const c = await ctx.open();
  const election = c.election('elect-etcdctl-first', { native: prefix });
  const leader = await election.leader();
  checkEqual(leader?.value, 'peer-a', "lockstep's leader() value");
  checkEqual(leader?.term, theirs!.term, "lockstep's leader() term (etcdctl's key's create revision)");
  const observed = observeAll(election, ctx);

  const campaign = election.campaign({ value: 'lockstep-a', signal: ctx.signal });
  campaign.catch(() => {});
  let led = false;
  void campaign.then(() => {
    led = true;
  });
  await untilCandidates(url, ctx, prefix, 2);
  await delay(300);
  checkEqual(led, false, 'lockstep leads while etcdctl does');

  const resignedAt = performance.now();
  await interrupt(peer, 'etcdctl elect');
  const leadership = await campaign;
  const tookMs = performance.now() - resignedAt;
  check(leadership.term > theirs!.term, `lockstep's term ${leadership.term} not above ${theirs!.term}`);
  check(tookMs < 5_000, `lockstep led ${Math.round(tookMs)} ms after etcdctl resigned (limit 5000)`);
  checkEqual((await election.leader())?.value, 'lockstep-a', 'leader() once lockstep leads');
  for (let i = 0; i < 100 && observed.length < 2; i++) await delay(20);
  checkEqual(
    observed.map((state) => state?.value ?? null).join(' → '),
    'peer-a → lockstep-a',
    "what lockstep's observer saw",
  );
  checkEqual(await leadership.resign(), true, "lockstep's resign");
}

/** lockstep leads; etcdctl waits, its observer sees lockstep's values, and it leads on resign. */
async function lockstepLeadsFirst(url: string, ctx: InteropContext): Promise<void> {
  etcdctlPath();
  const prefix = location(ctx, 'elect-lockstep-first');
  const c = await ctx.open();
  const election = c.election('elect-lockstep-first', { native: prefix });
  const leadership = await election.campaign({ value: 'lockstep-b', signal: ctx.signal });
  const [ours] = await candidatesOf(url, ctx, prefix);
  checkEqual(ours?.key, `${prefix}/${ours!.lease.toString(16)}`, "lockstep's key (lease id in hex)");
  checkEqual(ours?.value, 'lockstep-b', "lockstep's key's value");
  checkEqual(ours?.term, leadership.term, "lockstep's term (its key's create revision)");

  const watcher = etcdctl(ctx, url, ['elect', '-l', prefix]);
  await watcher.seen('lockstep-b', 15_000);
  const peer = etcdctl(ctx, url, ['elect', prefix, 'peer-b']);
  await untilCandidates(url, ctx, prefix, 2);
  await delay(300);
  checkEqual(peer.lines.length, 0, 'lines etcdctl elect printed (it prints once it leads)');

  await leadership.proclaim('lockstep-b2');
  await watcher.seen('lockstep-b2', 5_000);

  const resignedAt = performance.now();
  checkEqual(await leadership.resign(), true, "lockstep's resign");
  const electedAt = await peer.seen('peer-b', 10_000);
  check(electedAt > resignedAt, 'etcdctl led before lockstep resigned');
  await watcher.seen('peer-b', 5_000);
  const leader = await election.leader();
  checkEqual(leader?.value, 'peer-b', "lockstep's leader() once etcdctl leads");
  check(
    leader !== null && leader.term > leadership.term,
    `etcdctl's term ${leader?.term} not above lockstep's ${leadership.term}`,
  );
  await interrupt(peer, 'etcdctl elect');
  await interrupt(watcher, 'etcdctl elect -l');
}

/** The `interop.etcdctl.elect` scenarios. */
export const ETCDCTL_ELECT_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.etcdctl.elect',
    title: 'while etcdctl elect leads, lockstep waits and sees it; lockstep leads once it resigns',
    run: (target, ctx) => etcdctlLeadsFirst(target.url, ctx),
  },
  {
    id: 'interop.etcdctl.elect',
    title:
      'while lockstep leads, etcdctl elect waits and its observer sees the proclaim; etcdctl leads once lockstep resigns',
    run: (target, ctx) => lockstepLeadsFirst(target.url, ctx),
  },
];
