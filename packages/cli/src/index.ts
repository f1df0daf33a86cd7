/**
 * `lockstep` — the CLI, also callable from code: `main(argv)` resolves with the exit code.
 * @packageDocumentation
 */
export {
  type Args,
  type CounterArgs,
  type HelpArgs,
  type HelpTopic,
  type InspectArgs,
  type LeadArgs,
  parseArgs,
  type RunArgs,
  UsageError,
} from './args.js';
export { parseDuration } from './durations.js';
export {
  EXIT_BUSY,
  EXIT_LOST,
  EXIT_SPAWN_FAILED,
  EXIT_UNAVAILABLE,
  EXIT_USAGE,
} from './exit-codes.js';
export { main } from './main.js';
export type { Io } from './report.js';
