/**
 * The hosts of a URL such as `etcd://h1:p1,h2:p2` or `zookeeper://h:2181`: one parser of
 * `host[:port]` lists for every adapter whose URL names servers.
 * @module
 */
import { InvalidArgumentError } from './errors.js';

/** One entry of a URL's host list. */
export interface UrlHost {
  /** The host name or address; an IPv6 address without its brackets. */
  readonly host: string;
  readonly port: number;
  /** Written in brackets: an IPv6 address. */
  readonly ipv6: boolean;
}

/**
 * The hosts `url` names: comma-separated `host`, `host:port`, `[v6]` or `[v6]:port`, with
 * `defaultPort` where an entry has none. `connect()` hands a list over percent-encoded as one
 * opaque host; this reads it back. `backend` names the backend in error messages.
 * @throws InvalidArgumentError for an empty list, a malformed entry or a port outside 1–65535.
 */
export function urlHosts(url: URL, defaultPort: number, backend: string): UrlHost[] {
  const list = decodeURIComponent(url.host);
  if (list === '') {
    throw new InvalidArgumentError('url', `names no ${backend} host (${url.protocol}//host:port)`);
  }
  return list.split(',').map((entry) => urlHost(entry.trim(), defaultPort, backend));
}

/** `host:port`, with an IPv6 address in brackets (the form clients take). */
export function formatHost({ host, port, ipv6 }: UrlHost): string {
  return ipv6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function urlHost(entry: string, defaultPort: number, backend: string): UrlHost {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(entry);
  if (!match) {
    throw new InvalidArgumentError(
      'url',
      `bad ${backend} endpoint ${JSON.stringify(entry)} (want host:port)`,
    );
  }
  const [, v6, name, portText] = match;
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidArgumentError('url', `bad port in ${backend} endpoint ${JSON.stringify(entry)}`);
  }
  return { host: v6 ?? name!, port, ipv6: v6 !== undefined };
}
