/**
 * `lockstep counter URL NAME [get | incr [N] | decr [N] | set N]`: prints the value after the
 * operation on stdout (a bare number, or `{"name","value"}` with `--json`).
 * @module
 */

import type { CounterArgs } from './args.js';
import { open } from './connect.js';
import type { Io } from './report.js';

/** Runs `lockstep counter`; resolves with the exit code. */
export async function counterCommand(args: CounterArgs, io: Io): Promise<number> {
  const coordinator = await open(args.url);
  try {
    const counter = coordinator.counter(args.name);
    let value: number;
    if (args.op === 'incr') value = await counter.increment(args.amount);
    else if (args.op === 'decr') value = await counter.decrement(args.amount);
    else if (args.op === 'set') {
      await counter.set(args.amount);
      value = args.amount;
    } else value = await counter.get();
    io.stdout(args.json ? `${JSON.stringify({ name: args.name, value })}\n` : `${value}\n`);
    return 0;
  } finally {
    await coordinator.close();
  }
}
