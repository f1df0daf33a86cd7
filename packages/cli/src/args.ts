/**
 * The command line, parsed before anything connects: a mistake is one line naming the fix.
 * @module
 */
import { parseDuration } from './durations.js';

/** A usage mistake (exit 64), with the line to print. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `lockstep run URL NAME [options] -- command args…` */
export interface RunArgs {
  readonly command: 'run';
  readonly url: string;
  readonly name: string;
  readonly ttlMs: number | undefined;
  /** `undefined`: wait until granted (or interrupted). */
  readonly waitMs: number | undefined;
  readonly graceMs: number;
  readonly json: boolean;
  readonly argv: readonly string[];
}

/** `lockstep counter URL NAME [get | incr [N] | decr [N] | set N]` */
export interface CounterArgs {
  readonly command: 'counter';
  readonly url: string;
  readonly name: string;
  readonly op: 'get' | 'incr' | 'decr' | 'set';
  readonly amount: number;
  readonly json: boolean;
}

/** `lockstep lead URL NAME [options] -- command args…` */
export interface LeadArgs {
  readonly command: 'lead';
  readonly url: string;
  readonly name: string;
  readonly ttlMs: number | undefined;
  /** What this candidate proclaims while it leads (default: host:pid). */
  readonly value: string | undefined;
  readonly graceMs: number;
  readonly json: boolean;
  readonly argv: readonly string[];
}

/** `lockstep inspect URL NAME [--json]` */
export interface InspectArgs {
  readonly command: 'inspect';
  readonly url: string;
  readonly name: string;
  readonly json: boolean;
}

/** A command's help. */
export type HelpTopic = 'run' | 'lead' | 'inspect' | 'counter';

/** What `--help` asks for. */
export interface HelpArgs {
  readonly command: 'help';
  readonly topic: HelpTopic | undefined;
}

/** One command line. */
export type Args = RunArgs | LeadArgs | InspectArgs | CounterArgs | HelpArgs;

const TOPICS: readonly string[] = ['run', 'lead', 'inspect', 'counter'];

/** Default grace between SIGTERM and SIGKILL when the lock is lost. */
export const DEFAULT_GRACE_MS = 10_000;

/** Parses `argv` (without `node` and the script). */
export function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = rest[0];
    return {
      command: 'help',
      topic: topic !== undefined && TOPICS.includes(topic) ? (topic as HelpTopic) : undefined,
    };
  }
  if (command === 'run') return parseRun(rest);
  if (command === 'lead') return parseLead(rest);
  if (command === 'inspect') return parseInspect(rest);
  if (command === 'counter') return parseCounter(rest);
  throw new UsageError(`unknown command "${command}": use run, lead, inspect or counter (lockstep --help)`);
}

function parseRun(argv: readonly string[]): Args {
  const { own, commandArgv } = splitCommand(argv);
  if (own.includes('--help') || own.includes('-h')) return { command: 'help', topic: 'run' };
  const { positional, flags } = splitFlags(own, ['ttl', 'wait', 'grace'], ['json']);
  const [url, name, ...extra] = positional;
  if (url === undefined || name === undefined) {
    throw new UsageError(
      'run needs a URL and a lock name: lockstep run URL NAME [--ttl 30s] [--wait 10s] -- command',
    );
  }
  if (extra.length > 0) {
    throw new UsageError(
      `unexpected "${extra[0]}": put the command after --, as in lockstep run URL NAME -- ${extra.join(' ')}`,
    );
  }
  if (commandArgv.length === 0)
    throw new UsageError('run needs a command after --: lockstep run URL NAME -- command args…');
  return {
    command: 'run',
    url,
    name,
    ttlMs: duration(flags.ttl, '--ttl'),
    waitMs: duration(flags.wait, '--wait'),
    graceMs: duration(flags.grace, '--grace') ?? DEFAULT_GRACE_MS,
    json: flags.json === true,
    argv: commandArgv,
  };
}

/** The words before `--` and the command after it. */
function splitCommand(argv: readonly string[]): { own: readonly string[]; commandArgv: readonly string[] } {
  const dashes = argv.indexOf('--');
  return {
    own: dashes < 0 ? argv : argv.slice(0, dashes),
    commandArgv: dashes < 0 ? [] : argv.slice(dashes + 1),
  };
}

function parseLead(argv: readonly string[]): Args {
  const { own, commandArgv } = splitCommand(argv);
  if (own.includes('--help') || own.includes('-h')) return { command: 'help', topic: 'lead' };
  const { positional, flags } = splitFlags(own, ['ttl', 'value', 'grace'], ['json']);
  const [url, name, ...extra] = positional;
  if (url === undefined || name === undefined) {
    throw new UsageError(
      'lead needs a URL and an election name: lockstep lead URL NAME [--ttl 15s] -- command',
    );
  }
  if (extra.length > 0) throw new UsageError(`unexpected "${extra[0]}": put the command after --`);
  if (commandArgv.length === 0)
    throw new UsageError('lead needs a command after --: lockstep lead URL NAME -- command args…');
  return {
    command: 'lead',
    url,
    name,
    ttlMs: duration(flags.ttl, '--ttl'),
    value: typeof flags.value === 'string' ? flags.value : undefined,
    graceMs: duration(flags.grace, '--grace') ?? DEFAULT_GRACE_MS,
    json: flags.json === true,
    argv: commandArgv,
  };
}

function parseInspect(argv: readonly string[]): Args {
  if (argv.includes('--help') || argv.includes('-h')) return { command: 'help', topic: 'inspect' };
  const { positional, flags } = splitFlags(argv, [], ['json']);
  const [url, name, ...extra] = positional;
  if (url === undefined || name === undefined) {
    throw new UsageError('inspect needs a URL and a lock name: lockstep inspect URL NAME [--json]');
  }
  if (extra.length > 0) throw new UsageError(`unexpected "${extra[0]}"`);
  return { command: 'inspect', url, name, json: flags.json === true };
}

function parseCounter(argv: readonly string[]): Args {
  if (argv.includes('--help') || argv.includes('-h')) return { command: 'help', topic: 'counter' };
  const { positional, flags } = splitFlags(argv, [], ['json']);
  const [url, name, op = 'get', amountText, ...extra] = positional;
  if (url === undefined || name === undefined) {
    throw new UsageError(
      'counter needs a URL and a counter name: lockstep counter URL NAME [get|incr N|decr N|set N]',
    );
  }
  if (op !== 'get' && op !== 'incr' && op !== 'decr' && op !== 'set') {
    throw new UsageError(`unknown counter operation "${op}": use get, incr, decr or set`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected "${extra[0]}" after the ${op} amount`);
  if (op === 'get' && amountText !== undefined) throw new UsageError('get takes no amount');
  if (op === 'set' && amountText === undefined)
    throw new UsageError('set needs a value: lockstep counter URL NAME set 0');
  const amount = amountText === undefined ? 1 : Number(amountText);
  if (!Number.isSafeInteger(amount)) throw new UsageError(`"${amountText}" is not an integer`);
  return { command: 'counter', url, name, op, amount, json: flags.json === true };
}

/** Separates `--name value` / `--name=value` flags (and boolean ones) from positional words. */
function splitFlags(
  argv: readonly string[],
  valued: readonly string[],
  booleans: readonly string[],
): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('--')) {
      positional.push(word);
      continue;
    }
    const [flag, inline] = word.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (booleans.includes(flag)) {
      flags[flag] = true;
    } else if (valued.includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${flag} needs a value`);
      flags[flag] = value;
    } else {
      const known = [...valued, ...booleans].map((f) => `--${f}`).join(', ');
      throw new UsageError(`unknown option --${flag} (known: ${known || 'none'})`);
    }
  }
  return { positional, flags };
}

function duration(text: string | true | undefined, flag: string): number | undefined {
  if (text === undefined || text === true) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new UsageError(`${flag} ${text}: not a duration (use 500ms, 30s, 2m, or seconds)`);
  return ms;
}
