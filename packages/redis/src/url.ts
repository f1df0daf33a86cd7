/**
 * `redis://`, `rediss://` and `redlock://` URLs → where to connect. Query parameters are
 * options (core merges them); they are never passed on to ioredis.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';

/** One Redis endpoint. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** What a URL says about the connection(s). */
export interface RedisTarget {
  readonly endpoints: readonly RedisEndpoint[];
  readonly username?: string;
  readonly password?: string;
  readonly db: number;
  /** `rediss://`: TLS. (`redlock://` takes the `tls` option instead.) */
  readonly tls: boolean;
}

const DEFAULT_PORT = 6379;

/** Parses a redis, rediss or redlock URL. @throws InvalidArgumentError when malformed. */
export function parseRedisUrl(url: URL): RedisTarget {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  // core escapes the `:` of comma-separated host lists; a lone host keeps its port in url.port.
  const hostList = decodeURIComponent(url.host);
  const endpoints = hostList.split(',').map((entry) => parseEndpoint(entry.trim()));
  if (scheme !== 'redlock' && endpoints.length !== 1) {
    throw new InvalidArgumentError('url', `${scheme}:// takes one host; use redlock:// for several`);
  }
  return {
    endpoints,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: parseDb(url.pathname),
    tls: scheme === 'rediss',
  };
}

function parseEndpoint(entry: string): RedisEndpoint {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(entry);
  if (!match) throw new InvalidArgumentError('url', `"${entry}" is not a host[:port]`);
  const host = match[1] ?? match[2]!;
  const port = match[3] === undefined ? DEFAULT_PORT : Number(match[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidArgumentError('url', `port ${match[3]} of "${entry}" is out of range`);
  }
  return { host, port };
}

function parseDb(pathname: string): number {
  const path = pathname.replace(/^\/+|\/+$/g, '');
  if (path === '') return 0;
  if (!/^\d+$/.test(path))
    throw new InvalidArgumentError('url', `the path must be a database number, got "/${path}"`);
  return Number(path);
}
