/**
 * `lockstep inspect URL NAME`: who holds the lock and how many wait, as the backend tells it
 * now — a line per holder for people, or one JSON object with `--json`. A snapshot for
 * operators: it may have changed by the time it prints.
 * @module
 */
import type { InspectArgs } from './args.js';
import { open } from './connect.js';
import type { Io } from './report.js';

/** Runs `lockstep inspect`; resolves with the exit code. */
export async function inspectCommand(args: InspectArgs, io: Io): Promise<number> {
  const coordinator = await open(args.url);
  try {
    const found = await coordinator.inspect(args.name);
    if (args.json) {
      io.stdout(
        `${JSON.stringify(found, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))}\n`,
      );
      return 0;
    }
    if (found.holders.length === 0) io.stdout(`"${args.name}" is free\n`);
    for (const holder of found.holders) {
      const parts = [
        holder.owner === undefined ? undefined : `owner ${holder.owner}`,
        holder.fencingToken === undefined ? undefined : `token ${holder.fencingToken}`,
        holder.leftMs === undefined ? undefined : `lease ${(holder.leftMs / 1000).toFixed(1)} s left`,
      ].filter(Boolean);
      io.stdout(`"${args.name}" held: ${parts.join(', ') || 'by someone the backend does not name'}\n`);
    }
    if (found.waiting !== undefined) io.stdout(`${found.waiting} waiting\n`);
    return 0;
  } finally {
    await coordinator.close();
  }
}
