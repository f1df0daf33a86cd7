/**
 * `zookeeper://[user:password@]h1:p1[,h2:p2,...][/chroot][?options]` → what node-zookeeper-client
 * needs. The chroot is applied by lockstep (prefixed to every path), not by the client, so
 * that it is created on first use like any other parent.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import { formatHost, type UrlHost, urlHosts } from '@lockstep/core/driver';
import { validateZnodePath } from './paths.js';

/** ZooKeeper's default client port. */
export const DEFAULT_ZOOKEEPER_PORT = 2181;

/** What a `zookeeper://` URL names. */
export interface ZooKeeperTarget {
  /** `host:port` of every server. */
  readonly servers: readonly string[];
  /** The same servers, parsed. */
  readonly hosts: readonly UrlHost[];
  /** The chroot path (`''` for none), e.g. `/apps/billing`. */
  readonly chroot: string;
  /** `user:password` for ZooKeeper's digest authentication, from the URL's userinfo. */
  readonly digest?: string;
}

/**
 * Parses a `zookeeper://` URL (as core's `connect()` hands it over: a comma-separated host
 * list arrives percent-encoded as one opaque host).
 * @throws InvalidArgumentError for a missing host, a bad port, an IPv6 host (node-zookeeper-client
 * cannot connect to those) or a malformed chroot.
 */
export function parseZooKeeperUrl(url: URL): ZooKeeperTarget {
  const hosts = urlHosts(url, DEFAULT_ZOOKEEPER_PORT, 'ZooKeeper');
  const servers = hosts.map((server) => {
    if (server.ipv6) {
      throw new InvalidArgumentError(
        'url',
        `IPv6 hosts are not supported by node-zookeeper-client: [${server.host}]`,
      );
    }
    return formatHost(server);
  });
  const chroot = chrootOf(url.pathname);
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return username === ''
    ? { servers, hosts, chroot }
    : { servers, hosts, chroot, digest: `${username}:${password}` };
}

function chrootOf(pathname: string): string {
  if (pathname === '' || pathname === '/') return '';
  const trimmed = pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  let segments: string[];
  try {
    segments = trimmed
      .split('/')
      .slice(1)
      .map((segment) => decodeURIComponent(segment));
  } catch {
    throw new InvalidArgumentError('url', `bad percent-encoding in the chroot ${JSON.stringify(pathname)}`);
  }
  if (segments.some((segment) => segment.includes('/'))) {
    throw new InvalidArgumentError('url', 'a chroot segment must not contain an encoded "/"');
  }
  return validateZnodePath(`/${segments.join('/')}`, 'url chroot');
}
