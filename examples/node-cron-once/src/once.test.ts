import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { useServer } from '@lockstep/testing/vitest';
import { expect, it, onTestFinished } from 'vitest';

// A real redis-server from @lockstep/testing (startServer); every test is skipped, with the
// reason printed, when no source can provide one — or fails, when LOCKSTEP_REQUIRE lists redis.
const redis = useServer('redis');

interface RunLine {
  tick: string;
  pid: number;
  token: string;
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  /** Its exit code, and why it skipped ticks, one entry per skip (`taken`: another worker had it). */
  exited: Promise<{ code: number | null; skips: string[] }>;
}

/** `tsx src/worker.ts` as its own process; every run line it prints goes to `runs`. */
function worker(url: string, jobName: string, runs: RunLine[], onRun: () => void): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@lockstep/source', join(import.meta.dirname, 'worker.ts')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOCKSTEP_URL: url, JOB_NAME: jobName },
    },
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let err = '';
  const exited = new Promise<{ code: number | null; skips: string[] }>((resolve) =>
    child.once('close', (code) =>
      resolve({ code, skips: [...err.matchAll(/"skipped":"(\w+)"/g)].map((match) => match[1]!) }),
    ),
  );
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    let newline = out.indexOf('\n');
    while (newline !== -1) {
      runs.push(JSON.parse(out.slice(0, newline)) as RunLine);
      out = out.slice(newline + 1);
      newline = out.indexOf('\n');
      onRun();
    }
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (err.includes('"ready":true')) resolve();
    });
    void exited.then(({ code }) => reject(new Error(`worker exited (${code}) before it was ready:\n${err}`)));
  });
  return { child, ready, exited };
}

it('three workers run every tick exactly once between them, with growing fencing tokens', async () => {
  const runs: RunLine[] = [];
  const jobName = `job-${Math.random().toString(36).slice(2, 8)}`; // one name for the three
  let enough: () => void = () => {};
  const fourRuns = new Promise<void>((resolve) => {
    enough = resolve;
  });
  const onRun = () => {
    if (runs.length >= 4) enough();
  };
  const workers = [0, 1, 2].map(() => worker(redis.url, jobName, runs, onRun));
  await Promise.all(workers.map((w) => w.ready));
  await fourRuns;
  for (const w of workers) w.child.kill('SIGTERM');
  const ends = await Promise.all(workers.map((w) => w.exited));

  expect(ends.map((end) => end.code)).toEqual([0, 0, 0]);
  const byTick = new Map<string, RunLine[]>();
  for (const run of runs) byTick.set(run.tick, [...(byTick.get(run.tick) ?? []), run]);
  for (const [tick, ran] of byTick) expect(ran.length, `runs of tick ${tick}`).toBe(1);
  expect(byTick.size).toBeGreaterThanOrEqual(3);
  // The others did try those ticks and found them claimed: the lock, not luck, kept them out.
  expect(ends.flatMap((end) => end.skips)).toContain('taken');
  const inTickOrder = [...runs].sort((a, b) => Date.parse(a.tick) - Date.parse(b.tick));
  for (let i = 1; i < inTickOrder.length; i++) {
    expect(BigInt(inTickOrder[i]!.token)).toBeGreaterThan(BigInt(inTickOrder[i - 1]!.token));
  }
}, 20_000);
