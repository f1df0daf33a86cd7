/**
 * `redis://`, `rediss://` and `redlock://` URLs → where to connect. Query parameters are
 * options (core merges them); they are never passed on to ioredis.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import { type UrlHost, urlHosts } from '@lockstep/core/driver';

/** What a URL says about the connection(s). */
export interface RedisTarget {
  readonly endpoints: readonly UrlHost[];
  readonly username?: string;
  readonly password?: string;
  readonly db: number;
  /** `rediss://`: TLS. (`redlock://` takes the `tls` option instead.) */
  readonly tls: boolean;
}

/** Parses a redis, rediss or redlock URL. @throws InvalidArgumentError when malformed. */
export function parseRedisUrl(url: URL): RedisTarget {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const endpoints = urlHosts(url, 6379, 'redis');
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

function parseDb(pathname: string): number {
  const path = pathname.replace(/^\/+|\/+$/g, '');
  if (path === '') return 0;
  if (!/^\d+$/.test(path))
    throw new InvalidArgumentError('url', `the path must be a database number, got "/${path}"`);
  return Number(path);
}
