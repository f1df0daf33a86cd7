/**
 * The lockstep demo. Several workers contend for one lock; each, while holding it, writes to
 * a ledger that only accepts increasing fencing tokens, and bumps a shared counter. The
 * summary proves the point: never two holders, tokens strictly increasing, counter exact.
 *
 *   npm run demo                          file:// in a temp dir, worker processes
 *   npm run demo -- --crash               pause a holder past its lease: its late write is rejected
 *   npm run demo -- --crash=kill          kill a holder mid-section: the next one proceeds
 *   LOCKSTEP_URL=redis://127.0.0.1:6379 npm run demo
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@lockstep/core';
import { loadAdapterFor } from './adapters.js';
import { FencedLedger } from './ledger.js';
import type { LedgerReply, WorkerEvent, WorkerOptions } from './protocol.js';
import { colour, line, percentile } from './report.js';
import { runWorker, type WorkerPort } from './worker.js';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    'hold-ms': { type: 'string', default: '30' },
    crash: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  allowNegative: false,
  strict: true,
  args: process.argv.slice(2).map((a) => (a === '--crash' ? '--crash=pause' : a)),
});

if (args.help) {
  console.log('usage: npm run demo -- [--workers N] [--rounds N] [--hold-ms MS] [--crash[=pause|kill]]');
  process.exit(0);
}

const workers = Number(args.workers);
const rounds = Number(args.rounds);
const holdMs = Number(args['hold-ms']);
const crash = args.crash as 'pause' | 'kill' | undefined;
if (![workers, rounds, holdMs].every((n) => Number.isInteger(n) && n > 0) || workers > 32) {
  console.error('--workers (1..32), --rounds and --hold-ms must be positive integers');
  process.exit(2);
}
if (crash && crash !== 'pause' && crash !== 'kill') {
  console.error('--crash takes pause or kill');
  process.exit(2);
}

const tempDir = process.env.LOCKSTEP_URL ? undefined : mkdtempSync(join(tmpdir(), 'lockstep-demo-'));
const url = process.env.LOCKSTEP_URL ?? `file://${tempDir}`;
const scheme = new URL(url).protocol.slice(0, -1);
const inProcess = scheme === 'memory';

await loadAdapterFor(url);
const coord = await connect(url);
const ttlMs = Math.max(coord.capabilities.lock.minTtlMs, 1_000);
const runId = Math.random().toString(36).slice(2, 8);
const lockName = `demo:${runId}`;
const counterName = `demo:${runId}:count`;
const fenced = coord.capabilities.lock.fencing === 'monotonic';

console.log(
  colour.bold(`lockstep demo — ${workers} ${inProcess ? 'async workers' : 'worker processes'} on ${url}`),
);
console.log(
  colour.dim(
    `backend ${coord.backend}: fencing ${coord.capabilities.lock.fencing}, lease ${coord.capabilities.lock.lease}, ` +
      `fairness ${coord.capabilities.lock.fairness}; ttl ${ttlMs} ms, ${rounds} rounds each, ${holdMs} ms holds` +
      (crash ? `; --crash=${crash}` : ''),
  ),
);

const started = performance.now();
const now = () => performance.now() - started;
const ledger = new FencedLedger();
const grants = new Map<number, number>();
const waits: number[] = [];
const handoffs: number[] = [];
const holders = new Set<number>();
let maxHolders = 0;
let lastRelease: { worker: number; at: number } | undefined;
let increments = 0;
let crashed: number | undefined;
const errors: string[] = [];
const children = new Map<number, ChildProcess>();

// Workers start their rounds together once all are connected (process start-up takes longer
// than a few rounds): otherwise the first one could finish alone before the others arrive.
const notReady = new Set(Array.from({ length: workers }, (_, i) => i + 1));
let startAll: () => void = () => {};
const allReady = new Promise<void>((resolve) => {
  startAll = resolve;
});
function ready(worker: number): void {
  if (notReady.delete(worker) && notReady.size === 0) startAll();
}

function onEvent(event: WorkerEvent): void {
  const who = colour.worker(event.worker);
  switch (event.type) {
    case 'ready':
      ready(event.worker);
      break;
    case 'acquired': {
      holders.add(event.worker);
      maxHolders = Math.max(maxHolders, holders.size);
      grants.set(event.worker, (grants.get(event.worker) ?? 0) + 1);
      waits.push(event.waitedMs);
      if (lastRelease && lastRelease.worker !== event.worker) handoffs.push(now() - lastRelease.at);
      line(
        now(),
        `${who} ${colour.green('holds')} the lock  token ${event.token}  waited ${event.waitedMs.toFixed(1)} ms`,
      );
      maybeCrash(event.worker);
      break;
    }
    case 'incremented':
      increments++;
      break;
    case 'releasing':
      holders.delete(event.worker);
      lastRelease = { worker: event.worker, at: now() };
      break;
    case 'lost':
      holders.delete(event.worker);
      line(now(), `${who} ${colour.yellow('lost')} the lock (token ${event.token}): ${event.reason}`);
      break;
    case 'error':
      ready(event.worker); // a worker that failed to start must not hold the others back
      errors.push(`worker ${event.worker}: ${event.message}`);
      line(now(), `${who} ${colour.red('error')}: ${event.message}`);
      break;
    default:
      break;
  }
}

function onWrite(event: Extract<WorkerEvent, { type: 'write' }>): LedgerReply {
  const verdict = ledger.append({ worker: event.worker, token: BigInt(event.token), note: event.note });
  if (verdict.accepted) return { type: 'ledger', accepted: true };
  line(
    now(),
    `${colour.worker(event.worker)} ${colour.red('write REJECTED')} by the ledger: token ${event.token} <= last accepted ${verdict.lastToken}`,
  );
  return { type: 'ledger', accepted: false, lastToken: verdict.lastToken.toString() };
}

/** With --crash: the second grant's holder is paused past its lease, or killed. */
function maybeCrash(worker: number): void {
  if (!crash || crashed !== undefined || inProcess || ledger.entries.length < 1) return;
  const child = children.get(worker);
  if (!child?.pid) return;
  crashed = worker;
  lastRelease = undefined; // the next grant follows a crash, not a release: not a handoff
  if (crash === 'kill') {
    line(now(), `${colour.worker(worker)} ${colour.red('SIGKILL')} while holding the lock`);
    child.kill('SIGKILL');
    holders.delete(worker);
    return;
  }
  const pauseMs = ttlMs * 2 + 500;
  line(
    now(),
    `${colour.worker(worker)} ${colour.red('SIGSTOP')} while holding the lock, for ${pauseMs} ms (lease ${ttlMs} ms)`,
  );
  child.kill('SIGSTOP');
  // Its lease will run out while it sleeps; the process still "thinks" it holds the lock.
  holders.delete(worker);
  setTimeout(() => {
    line(
      now(),
      `${colour.worker(worker)} ${colour.yellow('SIGCONT')}: resumes inside its old critical section`,
    );
    child.kill('SIGCONT');
  }, pauseMs).unref();
}

const workerOptions = (worker: number): WorkerOptions => ({
  worker,
  url,
  rounds,
  holdMs,
  ttlMs,
  lockName,
  counterName,
});
const runs: Array<Promise<void>> = [];
for (let w = 1; w <= workers; w++) {
  if (inProcess) {
    const port: WorkerPort = { send: onEvent, started: () => allReady, write: async (e) => onWrite(e) };
    runs.push(runWorker(workerOptions(w), port));
    continue;
  }
  const child = fork(
    fileURLToPath(new URL('./worker.ts', import.meta.url)),
    ['--worker', JSON.stringify(workerOptions(w))],
    {
      execArgv: ['--import', 'tsx', '--conditions=@lockstep/source'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  children.set(w, child);
  child.on('message', (event: WorkerEvent) => {
    if (event.type === 'write') child.send(onWrite(event));
    else onEvent(event);
  });
  runs.push(
    new Promise((resolve) =>
      child.on('exit', () => {
        ready(w);
        resolve();
      }),
    ),
  );
}
void allReady.then(() => {
  for (const child of children.values()) if (child.connected) child.send({ type: 'start' });
});
await Promise.all(runs);

const counterValue = await coord.counter(counterName).get();
await coord.close();
if (tempDir) rmSync(tempDir, { recursive: true, force: true });

const totalGrants = [...grants.values()].reduce((a, b) => a + b, 0);
const tokensOk = ledger.tokensStrictlyIncrease();
const exclusive = maxHolders <= 1;
const counterExact = counterValue === increments;
const zombieRejected = crash !== 'pause' || ledger.rejected.length > 0 || !fenced;
console.log('');
console.log(colour.bold('summary'));
for (const [w, n] of [...grants.entries()].sort((a, b) => a[0] - b[0])) {
  console.log(`  ${colour.worker(w)}: ${n} grants${w === crashed ? colour.dim(` (crashed: ${crash})`) : ''}`);
}
const mark = (ok: boolean) => (ok ? colour.green('✓') : colour.red('✗'));
console.log(`  ${mark(exclusive)} max concurrent holders observed: ${maxHolders} (${totalGrants} grants)`);
console.log(
  `  ${mark(tokensOk)} ledger tokens strictly increasing: ${ledger.entries.length} writes accepted, ${ledger.rejected.length} rejected`,
);
console.log(`  ${mark(counterExact)} counter exact: ${counterValue} (expected ${increments})`);
if (crash === 'pause') {
  console.log(
    `  ${mark(zombieRejected)} the paused holder's late write was ${ledger.rejected.length > 0 ? 'rejected by the ledger (stale token)' : 'not rejected'}`,
  );
}
console.log(
  `  handoff latency (release → next holder, incl. IPC): p50 ${percentile(handoffs, 50).toFixed(1)} ms, p99 ${percentile(handoffs, 99).toFixed(1)} ms over ${handoffs.length} handoffs`,
);
console.log(
  `  wait before grant: p50 ${percentile(waits, 50).toFixed(1)} ms, p99 ${percentile(waits, 99).toFixed(1)} ms`,
);
for (const e of errors) console.log(`  ${colour.red('error')} ${e}`);
const ok = exclusive && tokensOk && counterExact && zombieRejected && errors.length === 0;
console.log(ok ? colour.green('all guarantees held') : colour.red('a guarantee was violated'));
process.exit(ok ? 0 : 1);
