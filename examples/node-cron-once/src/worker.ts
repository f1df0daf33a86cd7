/**
 * One instance: schedules the job with node-cron and runs each tick only if it claims it.
 * Start as many as you like against the same LOCKSTEP_URL; each tick runs on one of them.
 *
 * stdout: one JSON line per run, `{"tick":"…","pid":…,"token":"…"}`.
 * stderr: `{"ready":…}` once scheduled, `{"skipped":…}` per tick another instance had.
 * @module
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@lockstep/core';
// Registering the adapters here (rather than letting connect() find them) keeps the process's
// dependencies explicit: redis:// for a fleet, file:// for instances on one host.
import '@lockstep/file';
import '@lockstep/redis';
import cron from 'node-cron';
import { oncePerTick } from './once.js';

const url = process.env.LOCKSTEP_URL ?? `file://${join(tmpdir(), 'lockstep-node-cron-once')}`;
const name = process.env.JOB_NAME ?? 'every-second';
const schedule = process.env.SCHEDULE ?? '* * * * * *';
const ttlMs = Number(process.env.LOCK_TTL_MS ?? 3_000);

const coord = await connect(url);
const job = oncePerTick(
  coord,
  name,
  ({ tick, fencingToken }) => {
    // The job. A real one would pass fencingToken to whatever it writes.
    process.stdout.write(
      `${JSON.stringify({ tick: tick.toISOString(), pid: process.pid, token: String(fencingToken) })}\n`,
    );
  },
  { ttlMs },
);

const task = cron.schedule(schedule, async (context) => {
  try {
    const outcome = await job.run(context.date);
    if (!outcome.ran) {
      console.error(
        JSON.stringify({ skipped: outcome.reason, tick: outcome.tick.toISOString(), pid: process.pid }),
      );
    }
  } catch (error) {
    console.error(
      JSON.stringify({ failed: String(error), tick: context.date.toISOString(), pid: process.pid }),
    );
  }
});
console.error(JSON.stringify({ ready: true, pid: process.pid, url, name, schedule }));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await task.stop();
  // Before close(): close releases held locks, and the claims must outlive this process's runs.
  await job.drain();
  await coord.close();
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    stop().catch((error) => {
      console.error(JSON.stringify({ failed: String(error), pid: process.pid }));
      process.exitCode = 1;
    });
  });
}
