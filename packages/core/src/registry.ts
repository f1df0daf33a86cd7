/**
 * `connect(url)`: URL scheme → adapter. Adapters register themselves when imported; a
 * known scheme whose adapter is not yet registered is imported on demand, and a missing
 * package becomes `AdapterNotInstalledError` naming what to install.
 *
 * The registry lives on `globalThis` so that an adapter loaded through another copy of
 * core (ESM next to CJS, or two versions) still registers where `connect` looks.
 * @module
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AdapterNotInstalledError, InvalidArgumentError, LockstepError } from './errors.js';
import type { ConnectOptionsByScheme, ConnectOptionsFor, Coordinator, LooseConnectOptions } from './types.js';

/** What an adapter registers. */
export interface AdapterRegistration {
  /** URL schemes without the colon, e.g. `['redis', 'rediss', 'redlock']`. */
  readonly schemes: readonly string[];
  /** The npm package, for error messages. */
  readonly packageName: string;
  /**
   * Connects; `options` already merges the URL's query parameters under explicit options.
   * Rejects option names it does not know (`InvalidArgumentError`) before any I/O.
   */
  connect(url: URL, options: LooseConnectOptions): Promise<Coordinator>;
}

/** Schemes lockstep knows, and the package that serves each. */
export const KNOWN_SCHEMES: Readonly<Record<string, string>> = {
  memory: '@lockstep/core',
  file: '@lockstep/file',
  redis: '@lockstep/redis',
  rediss: '@lockstep/redis',
  redlock: '@lockstep/redis',
  etcd: '@lockstep/etcd',
  zookeeper: '@lockstep/zookeeper',
  consul: '@lockstep/consul',
  postgres: '@lockstep/postgres',
  postgresql: '@lockstep/postgres',
};

const REGISTRY_KEY = Symbol.for('lockstep.adapters');

function registry(): Map<string, AdapterRegistration> {
  const g = globalThis as { [REGISTRY_KEY]?: Map<string, AdapterRegistration> };
  g[REGISTRY_KEY] ??= new Map();
  return g[REGISTRY_KEY];
}

/** Registers an adapter for its schemes (later registrations of a scheme win). */
export function registerAdapter(adapter: AdapterRegistration): void {
  for (const scheme of adapter.schemes) registry().set(scheme.toLowerCase(), adapter);
}

/**
 * Connects to the backend a URL names: `memory://`, `file:///dir`, `redis://h:p`,
 * `redlock://h1:p1,h2:p2,h3:p3`, `etcd://h:p`, `zookeeper://h:p/chroot`, `consul://h:p`,
 * `postgres://user@h/db`. Query parameters are options; explicit `options` win. With a URL
 * literal whose adapter is imported somewhere in the program, `options` is typed as that
 * adapter's (see {@link ConnectOptionsByScheme}); every adapter also checks at run time.
 * @throws InvalidArgumentError for a malformed URL, an unknown scheme, or an option the
 *   adapter does not know (the message names the closest known one).
 * @throws AdapterNotInstalledError when the scheme's adapter package is missing.
 * @throws BackendUnavailableError when the backend cannot be reached within `connectTimeoutMs`.
 */
export async function connect<const U extends string | URL>(
  url: U,
  options: ConnectOptionsFor<U> = {} as ConnectOptionsFor<U>,
): Promise<Coordinator> {
  const parsed = parseUrl(url);
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  const adapter = registry().get(scheme) ?? (await loadAdapter(scheme));
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  const merged: LooseConnectOptions = { ...queryOptions(parsed), ...(options as LooseConnectOptions) };
  return adapter.connect(parsed, merged);
}

function parseUrl(url: string | URL): URL {
  if (url instanceof URL) return url;
  if (typeof url !== 'string') throw new InvalidArgumentError('url', 'must be a string or URL');
  try {
    return new URL(url);
  } catch {
    const listed = escapeHostList(url);
    if (listed !== undefined && URL.canParse(listed)) return new URL(listed);
    throw new InvalidArgumentError('url', `is not a valid URL: ${JSON.stringify(url)}`);
  }
}

/**
 * Comma-separated host lists (`redlock://h1:p1,h2:p2`, `etcd://`, `zookeeper://`) are not
 * valid WHATWG hosts: `h1:p1,h2:p2` fails as host `h1` with port `p1,h2:p2`. With each `:`
 * (and IPv6 bracket) of the list percent-encoded the whole list parses as one opaque host (our schemes are all
 * non-special), so adapters read it back as `decodeURIComponent(url.hostname).split(',')`.
 */
function escapeHostList(url: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?([^/?#@]*,[^/?#@]*)(.*)$/is.exec(url);
  if (!match) return undefined;
  const [, scheme, userinfo = '', hosts = '', rest = ''] = match;
  return scheme + userinfo + hosts.replace(/[:[\]]/g, (c) => encodeURIComponent(c)) + rest;
}

/** URL query parameters as options; numeric and boolean strings are converted. */
export function queryOptions(url: URL): LooseConnectOptions {
  const out: LooseConnectOptions = {};
  for (const [key, raw] of url.searchParams) {
    if (raw === 'true' || raw === 'false') out[key] = raw === 'true';
    else if (/^-?\d+(\.\d+)?$/.test(raw)) out[key] = Number(raw);
    else out[key] = raw;
  }
  return out;
}

async function loadAdapter(scheme: string): Promise<AdapterRegistration> {
  const packageName = KNOWN_SCHEMES[scheme];
  if (!packageName) {
    const known = Object.keys(KNOWN_SCHEMES).join(', ');
    throw new InvalidArgumentError('url', `unknown scheme "${scheme}:" (known: ${known})`);
  }
  return loadAdapterPackage(scheme, packageName);
}

/** Imports `packageName` (from core, then from the app) and returns what it registered. @internal */
export async function loadAdapterPackage(scheme: string, packageName: string): Promise<AdapterRegistration> {
  let lastError: unknown;
  for (const load of [() => import(packageName), () => importFromApp(packageName)]) {
    try {
      await load();
    } catch (error) {
      if (error instanceof LockstepError) throw error;
      lastError = error;
    }
    const adapter = registry().get(scheme);
    if (adapter) return adapter;
  }
  throw new AdapterNotInstalledError(scheme, packageName, { cause: lastError });
}

/**
 * Strict installs (pnpm) do not let core see packages it does not depend on; the
 * application can, so resolve the adapter from the working directory as well.
 */
async function importFromApp(packageName: string): Promise<unknown> {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const pkgJsonPath = require.resolve(`${packageName}/package.json`);
  const pkg = require(pkgJsonPath) as { exports?: Record<string, { import?: { default?: string } }> };
  const entry = pkg.exports?.['.']?.import?.default ?? './dist/index.js';
  return import(pathToFileURL(join(pkgJsonPath, '..', entry)).href);
}
