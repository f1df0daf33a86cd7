/**
 * The CLI as a function: argv in, exit code out. Everything the process does — its streams,
 * its exit — stays in `cli.ts`, so tests and embedders can run it.
 * @module
 */
import { parseArgs } from './args.js';
import { counterCommand } from './counter.js';
import { describeFailure } from './failure.js';
import { helpText } from './help.js';
import { inspectCommand } from './inspect.js';
import { leadWhileElected } from './lead.js';
import { type Io, PROCESS_IO } from './report.js';
import { runUnderLock } from './run.js';

/** Runs `lockstep argv…`; resolves with the exit code. Failures are one line on stderr. */
export async function main(argv: readonly string[], io: Io = PROCESS_IO): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.command === 'help') {
      io.stdout(helpText(args.topic));
      return 0;
    }
    if (args.command === 'run') return await runUnderLock(args, io);
    if (args.command === 'lead') return await leadWhileElected(args, io);
    if (args.command === 'inspect') return await inspectCommand(args, io);
    return await counterCommand(args, io);
  } catch (error) {
    const { code, line } = describeFailure(error);
    io.stderr(`lockstep: ${line}\n`);
    return code;
  }
}
