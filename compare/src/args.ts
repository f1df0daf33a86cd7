/**
 * Command-line arguments of `lockstep-compare`: `[compare] [--only a,b] [--url URL ...]
 * [--out DIR] [--no-bench]`.
 * @module
 */
import { schemeOf } from '@lockstep/conformance';
import { COMPARE_BACKENDS, type CompareBackend } from './profiles.js';

/** Parsed `compare` arguments. */
export interface CompareArgs {
  /** Backends to run, in report order. */
  readonly backends: readonly CompareBackend[];
  /** `--url` per backend: use that server instead of provisioning one. */
  readonly urls: Readonly<Partial<Record<CompareBackend, string>>>;
  /** Report directory. */
  readonly out: string;
  /** Whether to run the benchmarks. */
  readonly bench: boolean;
  /** `--help` was given. */
  readonly help: boolean;
}

/** Bad command-line input; the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The `--help` text: every flag, every backend, every environment variable compare reads. */
export const USAGE = `usage: lockstep-compare [--only BACKENDS] [--url URL ...] [--out DIR] [--no-bench]
       (pnpm compare … in the lockstep repository; a leading "compare" is accepted and ignored)

Runs the lockstep conformance suite and the benchmarks on every backend it can provision,
prints the matrix and writes report.json, report.md and report.html.

  --only a,b    run only these backends, in report order (default: all of them):
                ${COMPARE_BACKENDS.join(', ')}
  --url URL     use this server for the backend its scheme names instead of starting one;
                repeatable, one per backend. Schemes: redis:// rediss:// redlock://h1,h2,h3
                etcd:// zookeeper:// consul:// postgres:// postgresql:// file:///dir memory://
                Everything the run writes there starts with lockstep-compare/<run id> (on
                PostgreSQL: lives in the schema lockstep_compare_<run id>) and is removed
                afterwards, also when tests fail.
  --out DIR     where the report files go (default ./lockstep-report)
  --no-bench    conformance tests only, no benchmarks
  --help, -h    this text

Without --url, servers come from @lockstep/testing, in this order: the URL in
LOCKSTEP_TEST_<KIND>_URL (KIND: REDIS POSTGRES ETCD ZOOKEEPER CONSUL), a local binary on
PATH, a container (testcontainers), and for Consul its HTTP API emulator (labelled
"emulator" everywhere). A backend that cannot be provided stays in the report, every test
skipped with the reason.

Environment:
  LOCKSTEP_REQUIRE          comma-separated backends (or "all") that must be provisioned:
                            exit 1 when one was skipped ("redis" also requires redlock)
  LOCKSTEP_TEST_<KIND>_URL  a server of that kind to use instead of starting one
  NO_COLOR                  no colour in the matrix (colour only on a terminal anyway)

Each backend runs in a process of its own: a crash is recorded in its row and the report is
still written. Progress goes to stderr; stdout carries the results only. Exit code 0 when
every test passed or was skipped, 1 when a test failed, a backend's run crashed, its data
could not be removed, or a required backend was skipped; 2 on bad arguments.`;

const SCHEME_BACKENDS: Readonly<Record<string, CompareBackend>> = {
  memory: 'memory',
  file: 'file',
  redis: 'redis',
  rediss: 'redis',
  redlock: 'redlock',
  etcd: 'etcd',
  zookeeper: 'zookeeper',
  consul: 'consul',
  postgres: 'postgres',
  postgresql: 'postgres',
};

/** The backend a URL's scheme names (`redlock://` → redlock, `postgresql://` → postgres). */
export function backendOfUrl(url: string): CompareBackend {
  const backend = SCHEME_BACKENDS[schemeOf(url)];
  if (backend === undefined) {
    throw new UsageError(
      `--url ${JSON.stringify(url)}: unknown scheme; one of ${Object.keys(SCHEME_BACKENDS)
        .map((s) => `${s}://`)
        .join(' ')}`,
    );
  }
  return backend;
}

function isBackend(name: string): name is CompareBackend {
  return (COMPARE_BACKENDS as readonly string[]).includes(name);
}

/**
 * Parses the arguments (a leading `compare`, the subcommand of earlier versions, is
 * skipped). Accepts `--flag value` and `--flag=value`.
 * @throws UsageError for unknown flags, unknown backends, a missing value, two URLs for one
 * backend, or a URL for a backend `--only` leaves out.
 */
export function parseCompareArgs(argv: readonly string[]): CompareArgs {
  let only: CompareBackend[] | undefined;
  const urls: Partial<Record<CompareBackend, string>> = {};
  let out = 'lockstep-report';
  let bench = true;
  let help = false;
  for (let i = argv[0] === 'compare' ? 1 : 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string => {
      const inline = eq > 0 ? raw.slice(eq + 1) : argv[++i];
      if (inline === undefined || inline === '' || (eq < 0 && inline.startsWith('--'))) {
        throw new UsageError(`${flag} needs a value`);
      }
      return inline;
    };
    switch (flag) {
      case '--only': {
        const names = value()
          .split(',')
          .map((n) => n.trim().toLowerCase())
          .filter((n) => n !== '');
        for (const name of names) {
          if (!isBackend(name))
            throw new UsageError(`--only: unknown backend "${name}"; one of ${COMPARE_BACKENDS.join(', ')}`);
        }
        only = [...(only ?? []), ...(names as CompareBackend[])];
        break;
      }
      case '--url': {
        const url = value();
        const backend = backendOfUrl(url);
        if (urls[backend] !== undefined) throw new UsageError(`two --url values for ${backend}`);
        urls[backend] = url;
        break;
      }
      case '--out':
        out = value();
        break;
      case '--no-bench':
        if (eq > 0) throw new UsageError('--no-bench takes no value');
        bench = false;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(raw)}`);
    }
  }
  if (only !== undefined) {
    for (const backend of Object.keys(urls) as CompareBackend[]) {
      if (!only.includes(backend))
        throw new UsageError(`--url for ${backend}, but --only leaves ${backend} out`);
    }
  }
  const selected = new Set(only ?? COMPARE_BACKENDS);
  return { backends: COMPARE_BACKENDS.filter((b) => selected.has(b)), urls, out, bench, help };
}

/**
 * Backends `LOCKSTEP_REQUIRE` lists (comma or space separated; `all` means every backend):
 * compare fails when one of them could not be provisioned. `postgresql` and `zk` are
 * accepted spellings; `redis` also requires `redlock` (the same servers, as CI lists them).
 */
export function requiredCompareBackends(value: string | undefined): Set<CompareBackend> {
  const required = new Set<CompareBackend>();
  const aliases: Record<string, CompareBackend> = { postgresql: 'postgres', zk: 'zookeeper' };
  for (const raw of (value ?? '').split(/[\s,]+/)) {
    const name = raw.trim().toLowerCase();
    if (name === 'all') for (const backend of COMPARE_BACKENDS) required.add(backend);
    const backend = aliases[name] ?? name;
    if (isBackend(backend)) required.add(backend);
    if (backend === 'redis') required.add('redlock');
  }
  return required;
}
