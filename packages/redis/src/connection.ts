/**
 * ioredis clients configured for a lock service: commands fail fast instead of queueing
 * while disconnected (a renewal that cannot reach Redis must say so, so core can count
 * down the lease), a command that gets no reply fails after `commandTimeoutMs`, and the
 * connection keeps coming back in the background.
 * @module
 */
import { Backoff, type UrlHost, withTimeout } from '@lockstep/core/driver';
import { Redis, type Redis as RedisClient, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './url.js';

/** Connection options shared by `redis://` and `redlock://`. */
export interface ConnectionOptions {
  /** How long connecting may take. Default 5000. */
  readonly connectTimeoutMs: number;
  /** How long one command may wait for its reply before it fails. Default 2000. */
  readonly commandTimeoutMs: number;
  /** TLS even without `rediss://` (e.g. for `redlock://`). */
  readonly tls: boolean;
}

/**
 * Reconnects `client` forever (until `disconnect()`) after pauses of 50 ms doubling up to 1 s,
 * jittered so that many clients cut off together do not come back in step; a connection that
 * became ready starts over.
 */
function reconnectForever(client: RedisClient): RedisClient {
  const backoff = new Backoff(50, 1_000);
  client.options.retryStrategy = () => backoff.next();
  client.on('ready', () => backoff.reset());
  // Errors surface on the commands that hit them; the event would only be logged.
  client.on('error', () => {});
  return client;
}

/** A command client for one endpoint, not yet connected. */
export function commandClient(
  target: RedisTarget,
  endpoint: UrlHost,
  options: ConnectionOptions,
): RedisClient {
  const redisOptions: RedisOptions = {
    host: endpoint.host,
    port: endpoint.port,
    username: target.username,
    password: target.password,
    db: target.db,
    tls: target.tls || options.tls ? {} : undefined,
    connectionName: 'lockstep',
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  };
  return reconnectForever(new Redis(redisOptions));
}

/**
 * The subscriber connection for `client` (its own socket: a subscribed connection can run
 * nothing else). SUBSCRIBE may queue while it connects; ioredis re-subscribes after reconnects.
 */
export function subscriberFor(client: RedisClient): RedisClient {
  return reconnectForever(
    client.duplicate({
      connectionName: 'lockstep-subscriber',
      lazyConnect: true,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      // SUBSCRIBE waits for the connection; it must not fail just because connecting is slow.
      commandTimeout: undefined,
      // No INFO ready check: ioredis writes a SUBSCRIBE as soon as the socket connects (the
      // command is allowed while Redis loads), the connection enters subscriber mode, the INFO
      // that follows is refused, and ioredis drops the connection — with the channels just
      // subscribed on it (seen as 17 of 20 subscriptions, and waiters left to their re-checks).
      enableReadyCheck: false,
      autoResubscribe: true,
    }),
  );
}

/**
 * Connects, or rejects after `timeoutMs` — or at once when the connection closes before it is
 * ready (refused, unresolvable, login refused): ioredis then reconnects in the background, and
 * that retry would only end in the same answer.
 *
 * The rejection is the client's own error (`connect ECONNREFUSED 127.0.0.1:6390`,
 * `WRONGPASS …`), which ioredis reports only as an `error` event; its `connect()` merely says
 * "Connection is closed.".
 */
export async function connectWithin(client: RedisClient, timeoutMs: number): Promise<void> {
  let lastError: unknown;
  const remember = (error: unknown) => {
    lastError = error;
  };
  client.on('error', remember);
  const closed = client.connect().catch((error: unknown) => {
    throw lastError ?? error;
  });
  try {
    await withTimeout(
      closed,
      timeoutMs,
      () => new Error(`no connection within ${timeoutMs} ms`, { cause: lastError }),
    );
  } finally {
    client.off('error', remember);
  }
}
