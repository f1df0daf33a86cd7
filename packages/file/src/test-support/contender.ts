/**
 * A contender process for the tests: `node --import tsx contender.ts '<json config>'`.
 * Reports each step as one JSON line on stdout; instants (`at`) are on the host's monotonic
 * clock, which every process shares, so holds of different processes can be compared.
 *
 * - `hold`: acquire (waiting as long as it takes), report `acquired`, hold until killed; reports
 *   `lost` if the lease is lost. A `count` line on stdin is answered with `count` and the
 *   number of critical sections this process has entered.
 * - `cycle`: report `ready`, wait for `go` on stdin, then `cycles` times acquire → hold
 *   `holdMs` → release, reporting each grant (`acquired`, with `requestedAt` read just before
 *   the acquire) and each release (`releasing`, just before it); then `done` and exit.
 *
 * With `permits` set, it contends for a permit of the semaphore `name` (declaring that count)
 * instead of the lock `name`; with `side`, for that side of the read-write lock `name`; with
 * `electionValue`, for the leadership of the election `name` (a release is a resignation), and a
 * `proclaim:<value>` line is answered with `proclaimed` and whether it was accepted.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { monotonicNowMs } from '../clock.js';
import { criticalSectionCount } from '../flock.js';
import { connectFile } from '../index.js';

/** What a contender is told to do. */
export interface ContenderConfig {
  readonly dir: string;
  readonly name: string;
  readonly ttlMs: number;
  readonly mode: 'hold' | 'cycle';
  readonly cycles?: number;
  readonly holdMs?: number;
  /** Contend for a permit of the semaphore `name`, declaring this count. */
  readonly permits?: number;
  /** Contend for this side of the read-write lock `name`. */
  readonly side?: 'read' | 'write';
  /** Campaign in the election `name` with this value. */
  readonly electionValue?: string;
}

/** What the contender holds, whichever primitive it is. */
interface Held {
  readonly fencingToken: bigint;
  readonly signal: AbortSignal;
  release(): Promise<unknown>;
  proclaim?(value: string): Promise<void>;
}

const config = JSON.parse(process.argv[2]!) as ContenderConfig;
const say = (event: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ event, pid: process.pid, ...extra }));

const coord = connectFile(config.dir);
const options = { ttlMs: config.ttlMs };
function contend(): () => Promise<Held> {
  const { name, permits, side, electionValue } = config;
  if (electionValue !== undefined) {
    const election = coord.election(name, options);
    return async () => {
      const leadership = await election.campaign({ value: electionValue });
      return {
        fencingToken: leadership.term,
        signal: leadership.signal,
        release: () => leadership.resign(),
        proclaim: (value) => leadership.proclaim(value),
      };
    };
  }
  const source =
    side !== undefined
      ? coord.readWriteLock(name, options)[side]
      : permits === undefined
        ? coord.lock(name, options)
        : coord.semaphore(name, { ...options, permits });
  return () => source.acquire();
}

const acquire = contend();
const input = createInterface({ input: process.stdin });

if (config.mode === 'hold') {
  let held: Held | undefined;
  input.on('line', (line) => {
    if (line === 'count') say('count', { sections: criticalSectionCount() });
    if (line.startsWith('proclaim:') && held?.proclaim) {
      held.proclaim(line.slice('proclaim:'.length)).then(
        () => say('proclaimed', { ok: true }),
        (error: Error & { code?: string }) => say('proclaimed', { ok: false, code: error.code }),
      );
    }
  });
  held = await acquire();
  held.signal.addEventListener('abort', () => say('lost'));
  say('acquired', { token: held.fencingToken.toString(), at: monotonicNowMs() });
  setInterval(() => {}, 1_000);
} else {
  const go = new Promise<void>((resolve) => input.on('line', (line) => line === 'go' && resolve()));
  say('ready');
  await go;
  input.close();
  for (let cycle = 0; cycle < (config.cycles ?? 1); cycle++) {
    const requestedAt = monotonicNowMs();
    const held = await acquire();
    say('acquired', { token: held.fencingToken.toString(), at: monotonicNowMs(), requestedAt });
    await sleep(config.holdMs ?? 0);
    say('releasing', { token: held.fencingToken.toString(), at: monotonicNowMs() });
    await held.release();
  }
  say('done');
  await coord.close();
}
