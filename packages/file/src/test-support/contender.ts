/**
 * A contender process for the tests: `node --import tsx contender.ts '<json config>'`.
 * Reports each step as one JSON line on stdout.
 *
 * - `hold`: acquire (waiting as long as it takes), report `acquired`, hold until killed; reports
 *   `lost` if the lease is lost.
 * - `cycle`: report `ready`, wait for `go` on stdin, then `cycles` times acquire → hold
 *   `holdMs` → release, reporting each grant; then `done` and exit.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectFile } from '../index.js';

/** What a contender is told to do. */
export interface ContenderConfig {
  readonly dir: string;
  readonly name: string;
  readonly ttlMs: number;
  readonly mode: 'hold' | 'cycle';
  readonly cycles?: number;
  readonly holdMs?: number;
}

const config = JSON.parse(process.argv[2]!) as ContenderConfig;
const say = (event: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ event, pid: process.pid, ...extra }));

const coord = connectFile(config.dir);
const lock = coord.lock(config.name, { ttlMs: config.ttlMs });

if (config.mode === 'hold') {
  const held = await lock.acquire();
  held.signal.addEventListener('abort', () => say('lost'));
  say('acquired', { token: held.fencingToken.toString() });
  setInterval(() => {}, 1_000);
} else {
  const input = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => input.on('line', (line) => line === 'go' && resolve()));
  say('ready');
  await go;
  input.close();
  for (let cycle = 0; cycle < (config.cycles ?? 1); cycle++) {
    const held = await lock.acquire();
    say('acquired', { token: held.fencingToken.toString() });
    await sleep(config.holdMs ?? 0);
    await held.release();
  }
  say('done');
  await coord.close();
}
