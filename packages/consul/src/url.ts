/**
 * `consul://host[:port]` → the agent's HTTP(S) address.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';

/** Consul's default HTTP port. */
export const DEFAULT_HTTP_PORT = 8500;
/** Consul's conventional HTTPS port. */
export const DEFAULT_HTTPS_PORT = 8501;

/**
 * The agent address a `consul://` URL names. Only a host and port: Consul has no path prefix, and
 * credentials go in `?token=` (an ACL token), not in the authority.
 * @throws InvalidArgumentError for anything else.
 */
export function agentUrl(url: URL, https: boolean): URL {
  if (url.protocol.toLowerCase() !== 'consul:') {
    throw new InvalidArgumentError('url', `expected a consul:// URL, got ${url.protocol}//`);
  }
  if (url.hostname === '')
    throw new InvalidArgumentError('url', 'consul:// needs a host, e.g. consul://127.0.0.1:8500');
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError('url', 'put the ACL token in ?token=…, not in the URL authority');
  }
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new InvalidArgumentError(
      'url',
      `consul:// URLs have no path (got ${JSON.stringify(url.pathname)})`,
    );
  }
  if (url.hostname.includes(',')) {
    throw new InvalidArgumentError(
      'url',
      'consul:// takes one agent address; the agent forwards to the servers',
    );
  }
  const port = url.port === '' ? (https ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT) : Number(url.port);
  return new URL(`${https ? 'https' : 'http'}://${url.hostname}:${port}`);
}
