/**
 * Building coordinators: from a `consul://` URL (checked with one request before it is returned),
 * or from your own agent address and `fetch`.
 * @module
 */
import {
  BackendUnavailableError,
  type Coordinator,
  createCoordinator,
  InvalidArgumentError,
  validateName,
} from '@lockstep/core';
import { consulDriver } from './driver.js';
import { ConsulHttp } from './http.js';
import {
  CONSUL_COORDINATOR_OPTION_NAMES,
  type ConsulConnectOptions,
  type ConsulCoordinatorOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { agentUrl } from './url.js';

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
  if (resolved.prefix !== undefined) validateName(resolved.prefix, 'prefix');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new InvalidArgumentError('fetch', 'must be a fetch-compatible function');
  }
  return build(httpUrl(options.url), resolved, options.fetch);
}

/** `connect('consul://host:port', options)`: validates, then proves the agent answers. */
export async function connectFromUrl(url: URL, options: ConsulConnectOptions): Promise<Coordinator> {
  const resolved = resolveOptions(options);
  if (resolved.prefix !== undefined) validateName(resolved.prefix, 'prefix');
  const http = httpClient(agentUrl(url, resolved.https), resolved, undefined);
  await checkLeader(http, resolved);
  return createCoordinator(consulDriver(http, resolved), { prefix: resolved.prefix });
}

function build(
  baseUrl: URL,
  resolved: ResolvedOptions,
  fetchFn: ConsulCoordinatorOptions['fetch'],
): Coordinator {
  return createCoordinator(consulDriver(httpClient(baseUrl, resolved, fetchFn), resolved), {
    prefix: resolved.prefix,
  });
}

function httpClient(
  baseUrl: URL,
  resolved: ResolvedOptions,
  fetchFn: ConsulCoordinatorOptions['fetch'],
): ConsulHttp {
  return new ConsulHttp({
    baseUrl,
    token: resolved.token,
    datacenter: resolved.datacenter,
    requestTimeoutMs: resolved.requestTimeoutMs,
    fetch: fetchFn,
  });
}

/**
 * One request, bounded by `connectTimeoutMs`: `/v1/status/leader` answers without an ACL token and
 * says whether the cluster has a leader (an empty answer means none: nothing could be written).
 */
async function checkLeader(http: ConsulHttp, resolved: ResolvedOptions): Promise<void> {
  const reply = await http.send({
    method: 'GET',
    path: '/v1/status/leader',
    timeoutMs: resolved.connectTimeoutMs,
    doing: `connecting (within ${resolved.connectTimeoutMs} ms)`,
  });
  if (reply.status !== 200) throw http.failure(reply, 'connecting');
  let leader: unknown;
  try {
    leader = JSON.parse(reply.text);
  } catch {
    leader = undefined;
  }
  if (typeof leader !== 'string' || leader === '') {
    throw new BackendUnavailableError(
      'consul',
      `connecting: the cluster has no leader (${reply.text.trim() || 'empty answer'})`,
    );
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
