/**
 * Building coordinators: from a `consul://` URL (checked with one request before it is returned),
 * or from your own agent address and `fetch`. Both assemble the same driver: sessions, locks,
 * semaphores, read-write locks, elections, release watches and counters over one HTTP client; core
 * supplies the rest.
 * @module
 */
import { hostname } from 'node:os';
import { BackendUnavailableError, type Coordinator, InvalidArgumentError } from '@lockstep/core';
import { type BackendDriver, createCoordinator, SessionPool, Sweeper } from '@lockstep/core/driver';
import { consulCapabilities } from './capabilities.js';
import { consulCounters } from './counters.js';
import { ConsulElections } from './elections.js';
import { ConsulHttp } from './http.js';
import { parseJson } from './json.js';
import { ConsulLocks } from './locks.js';
import {
  CONSUL_COORDINATOR_OPTION_NAMES,
  type ConsulConnectOptions,
  type ConsulCoordinatorOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { ConsulReadWriteLocks } from './rwlocks.js';
import { ConsulSemaphores } from './semaphores.js';
import { createSession } from './session.js';
import { SessionSlots } from './session-slots.js';
import { TreeFeeds } from './tree-feed.js';
import { agentUrl } from './url.js';
import { ReleaseWatches } from './watch.js';

/** `wait` of the blocking queries (on a lock's or election's key, on a semaphore's or read-write lock's prefix). */
const WATCH_WAIT_MS = 60_000;

/**
 * A coordinator over the Consul agent at `options.url` (`http://host:8500`), using your `fetch` when
 * given. No request is made until the first lock or counter operation; `close()` destroys the
 * sessions lockstep created and nothing else.
 * @throws InvalidArgumentError for a malformed URL or option.
 */
export function consulCoordinator(options: ConsulCoordinatorOptions): Coordinator {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object with the agent url');
  }
  const resolved = resolveOptions(options, CONSUL_COORDINATOR_OPTION_NAMES, 'consulCoordinator options');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new InvalidArgumentError('fetch', 'must be a fetch-compatible function');
  }
  return coordinator(httpClient(httpUrl(options.url), resolved, options.fetch), resolved);
}

/** `connect('consul://host:port', options)`: validates, then proves the agent answers. */
export async function connectFromUrl(url: URL, options: ConsulConnectOptions): Promise<Coordinator> {
  const resolved = resolveOptions(options);
  const http = httpClient(agentUrl(url, resolved.https), resolved, undefined);
  await checkLeader(http, resolved.connectTimeoutMs);
  return coordinator(http, resolved);
}

function coordinator(http: ConsulHttp, resolved: ResolvedOptions): Coordinator {
  return createCoordinator(consulDriver(http, resolved), { prefix: resolved.prefix });
}

/** The driver. `close()` destroys its sessions; the HTTP client has nothing to close. */
function consulDriver(http: ConsulHttp, resolved: ResolvedOptions): BackendDriver {
  const spec = { lockDelayMs: resolved.lockDelayMs, name: `lockstep ${hostname()} pid ${process.pid}` };
  const pool = () => new SessionPool({ create: (ttlMs) => createSession(http, { ...spec, ttlMs }) });
  const sessions = pool();
  const slots = new SessionSlots(sessions, pool);
  const watches = new ReleaseWatches(http, WATCH_WAIT_MS);
  const feeds = new TreeFeeds(http, WATCH_WAIT_MS);
  const sweeper = new Sweeper();
  const scope = { http, watches, sweeper };
  return {
    backend: 'consul',
    capabilities: consulCapabilities(resolved.sessionTtlMinMs),
    locks: new ConsulLocks(scope, sessions),
    semaphores: new ConsulSemaphores(scope, slots, feeds),
    readWriteLocks: new ConsulReadWriteLocks(scope, slots, feeds),
    elections: new ConsulElections(scope, sessions, WATCH_WAIT_MS),
    counters: consulCounters(http),
    async close() {
      // Core released every handle first; releases still owed go out before the sessions are
      // destroyed, which then starts no lock-delay.
      watches.close();
      feeds.close();
      await sweeper.flush();
      await Promise.all([slots.close(), sessions.close()]);
    },
  };
}

function httpClient(baseUrl: URL, resolved: ResolvedOptions, fetchFn: ConsulCoordinatorOptions['fetch']) {
  const { token, datacenter, requestTimeoutMs } = resolved;
  return new ConsulHttp({ baseUrl, token, datacenter, requestTimeoutMs, fetch: fetchFn });
}

/**
 * One request, bounded by `connectTimeoutMs`: `/v1/status/leader` answers without an ACL token and
 * says whether the cluster has a leader (an empty answer means none: nothing could be written).
 */
async function checkLeader(http: ConsulHttp, timeoutMs: number): Promise<void> {
  const doing = `connecting (within ${timeoutMs} ms)`;
  const reply = await http.send({ method: 'GET', path: '/v1/status/leader', timeoutMs, doing });
  if (reply.status !== 200) throw http.failure(reply, 'connecting');
  const leader = parseJson(reply.text);
  if (typeof leader !== 'string' || leader === '') {
    const what = reply.text.trim() || 'empty answer';
    throw new BackendUnavailableError('consul', `connecting: the cluster has no leader (${what})`);
  }
}

function httpUrl(url: unknown): URL {
  let parsed: URL;
  try {
    parsed = new URL(url instanceof URL ? url.href : String(url));
  } catch {
    throw new InvalidArgumentError('url', `is not a valid URL: ${JSON.stringify(String(url))}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(
      'url',
      `must be the agent's http:// or https:// address, got ${parsed.protocol}//`,
    );
  }
  return new URL(`${parsed.protocol}//${parsed.host}`);
}
