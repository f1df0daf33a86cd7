/**
 * `etcd://[user:password@]h1:p1[,h2:p2,...][?options]` → the endpoints and credentials etcd3 needs.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import { formatHost, type UrlHost, urlHosts } from '@lockstep/core/driver';

/** etcd's default client port. */
export const DEFAULT_ETCD_PORT = 2379;

/** What an `etcd://` URL names. */
export interface EtcdTarget {
  /** `host:port` of every endpoint (IPv6 hosts in brackets). */
  readonly endpoints: readonly string[];
  /** The same endpoints, parsed. */
  readonly hosts: readonly UrlHost[];
  /** From the URL's userinfo, for etcd's password authentication. */
  readonly auth?: { readonly username: string; readonly password: string };
}

/**
 * Parses an `etcd://` URL (as core's `connect()` hands it over: a comma-separated host list
 * arrives percent-encoded as one opaque host).
 * @throws InvalidArgumentError for a missing host, a bad port or a path.
 */
export function parseEtcdUrl(url: URL): EtcdTarget {
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new InvalidArgumentError('url', `etcd URLs take no path, got ${JSON.stringify(url.pathname)}`);
  }
  const hosts = urlHosts(url, DEFAULT_ETCD_PORT, 'etcd');
  const endpoints = hosts.map(formatHost);
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return username === '' ? { endpoints, hosts } : { endpoints, hosts, auth: { username, password } };
}
