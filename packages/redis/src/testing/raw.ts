/**
 * The one raw ioredis client of this package's testing tools (benchmark floors, peers,
 * interop scenarios, cleanup), and deletion by key prefix.
 * @module
 */
import type { InteropContext } from '@lockstep/conformance/interop';
import { Redis } from 'ioredis';

/** `redis://host:port/db?…` without its query: lockstep's options are not ioredis options. */
function withoutQuery(url: string): string {
  return url.replace(/[?#].*$/, '');
}

/** A raw ioredis client for a `redis://` URL, connected; errors surface on its commands. */
export async function rawClient(url: string): Promise<Redis> {
  const client = new Redis(withoutQuery(url), { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A raw client for `url`, disconnected when the scenario ends. */
export async function scenarioClient(ctx: Pick<InteropContext, 'defer'>, url: string): Promise<Redis> {
  const client = await rawClient(url);
  ctx.defer(() => void client.disconnect());
  return client;
}

/**
 * Turns on keyspace notifications until the scenario ends, then restores the server's
 * setting: by default for generic and expired events (`Kgx`, so lockstep waiters hear a peer's
 * DEL); a sorted set's changes need `z` too.
 */
export async function withKeyspaceEvents(ctx: InteropContext, raw: Redis, classes = 'Kgx'): Promise<void> {
  const [, before] = (await raw.config('GET', 'notify-keyspace-events')) as [string, string];
  await raw.config('SET', 'notify-keyspace-events', classes);
  ctx.defer(() => raw.config('SET', 'notify-keyspace-events', before ?? ''));
}

/** `text` with Redis glob characters escaped, for a MATCH pattern that means `text` literally. */
function literalPattern(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Deletes every key that starts with one of `prefixes` (SCAN … MATCH, then DEL in batches);
 * returns how many were deleted.
 */
export async function deleteByPrefix(client: Redis, prefixes: readonly string[]): Promise<number> {
  let deleted = 0;
  for (const prefix of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${literalPattern(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}

/** `Redis 7.0.15`, from `INFO server`. */
export async function redisVersion(client: Redis): Promise<string> {
  const info = await client.info('server');
  return `Redis ${/^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown'}`;
}
