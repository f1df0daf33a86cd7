/**
 * Several instances of a service share one schedule; each slot's job runs exactly once.
 *   npm start -- [--instances 3] [--slots 4] [--interval-ms 400]
 *   LOCKSTEP_URL=redis://127.0.0.1:6379 npm start
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@lockstep/core';
import { loadAdapterFor } from './adapters.js';
import { schedule } from './scheduler.js';

export async function runCronExample(url: string, instances: number, slots: number, intervalMs: number) {
  await loadAdapterFor(url);
  const coords = await Promise.all(Array.from({ length: instances }, () => connect(url)));
  const runs: Array<{ instance: number; slot: number }> = [];
  let running = 0;
  let maxRunning = 0;
  const stop = new AbortController();
  const job = `report-${Math.random().toString(36).slice(2, 8)}`;
  const loops = coords.map((coord, instance) =>
    schedule(
      coord,
      {
        job,
        intervalMs,
        ttlMs: Math.max(coord.capabilities.lock.minTtlMs, 2_000),
        run: async (signal, slot) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          console.log(`instance ${instance + 1} runs slot ${slot}`);
          await new Promise((r) => setTimeout(r, intervalMs / 10));
          running--;
          signal.throwIfAborted();
          runs.push({ instance: instance + 1, slot });
        },
      },
      stop.signal,
    ),
  );
  await new Promise((r) => setTimeout(r, slots * intervalMs));
  stop.abort();
  await Promise.all(loops);
  await Promise.all(coords.map((c) => c.close()));
  const perSlot = new Map<number, number>();
  for (const r of runs) perSlot.set(r.slot, (perSlot.get(r.slot) ?? 0) + 1);
  return { runs, maxRunning, duplicates: [...perSlot.values()].filter((n) => n > 1).length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '3' },
      slots: { type: 'string', default: '4' },
      'interval-ms': { type: 'string', default: '400' },
    },
  });
  const dir = process.env.LOCKSTEP_URL ? undefined : mkdtempSync(join(tmpdir(), 'lockstep-cron-'));
  const url = process.env.LOCKSTEP_URL ?? `file://${dir}`;
  const result = await runCronExample(
    url,
    Number(values.instances),
    Number(values.slots),
    Number(values['interval-ms']),
  );
  if (dir) rmSync(dir, { recursive: true, force: true });
  console.log(
    `${result.runs.length} runs, ${result.duplicates} slots ran twice, at most ${result.maxRunning} at once`,
  );
  process.exit(result.duplicates === 0 && result.maxRunning <= 1 ? 0 : 1);
}
