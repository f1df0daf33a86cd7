/**
 * The one raw etcd3 client of this package's tests and testing tools, deletion by key
 * prefix, and the server's version.
 * @module
 */
import { Etcd3 } from 'etcd3';

/** `etcd://h1:p1,h2:p2/…?…` → `['http://h1:p1', 'http://h2:p2']`. */
export function httpEndpoints(url: string): string[] {
  return decodeURIComponent(url.replace(/^etcd:\/\//, '').replace(/[/?#].*$/, ''))
    .split(',')
    .map((h) => `http://${h}`);
}

/** A plain etcd3 client for an `etcd://` URL (to look at and tamper with keys); lockstep's options are ignored. */
export function rawClient(url: string): Etcd3 {
  return new Etcd3({ hosts: httpEndpoints(url) });
}

/** Deletes every key starting with one of `prefixes` (one delete range each); returns how many. */
export async function deleteByPrefix(client: Etcd3, prefixes: readonly string[]): Promise<number> {
  let deleted = 0;
  for (const prefix of prefixes) deleted += Number((await client.delete().prefix(prefix).exec()).deleted);
  return deleted;
}

/** `etcd 3.5.16`, from the first endpoint's `/version`. */
export async function etcdVersion(url: string): Promise<string> {
  const response = await fetch(`${httpEndpoints(url)[0]}/version`);
  const body = (await response.json()) as { etcdserver?: string };
  return `etcd ${body.etcdserver ?? 'unknown'}`;
}
