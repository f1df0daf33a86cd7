/**
 * ioredis clients configured for a lock service: commands fail fast instead of queueing
 * while disconnected (a renewal that cannot reach Redis must say so, so core can count
 * down the lease), a command that gets no reply fails after `commandTimeoutMs`, and the
 * connection keeps coming back in the background.
 * @module
 */
import { Redis, type Redis as RedisClient, type RedisOptions } from 'ioredis';
import type { RedisEndpoint, RedisTarget } from './url.js';

/** Connection options shared by `redis://` and `redlock://`. */
export interface ConnectionOptions {
  /** How long connecting may take. Default 5000. */
  readonly connectTimeoutMs: number;
  /** How long one command may wait for its reply before it fails. Default 2000. */
  readonly commandTimeoutMs: number;
  /** TLS even without `rediss://` (e.g. for `redlock://`). */
  readonly tls: boolean;
}

/** Reconnect backoff: 50 ms doubling up to 1 s, forever (until `disconnect()`). */
function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt - 1, 5), 1_000);
}

/** A command client for one endpoint, not yet connected. */
export function commandClient(
  target: RedisTarget,
  endpoint: RedisEndpoint,
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
    retryStrategy: reconnectDelay,
  };
  const client = new Redis(redisOptions);
  // Errors surface on the commands that hit them; the event would only be logged.
  client.on('error', () => {});
  return client;
}

/**
 * The subscriber connection for `client` (its own socket: a subscribed connection can run
 * nothing else). SUBSCRIBE may queue while it connects; ioredis re-subscribes after reconnects.
 */
export function subscriberFor(client: RedisClient): RedisClient {
  const subscriber = client.duplicate({
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
    retryStrategy: reconnectDelay,
  });
  subscriber.on('error', () => {});
  return subscriber;
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
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no connection within ${timeoutMs} ms`, { cause: lastError })),
      timeoutMs,
    );
  });
  const closed = client.connect().catch((error: unknown) => {
    throw lastError ?? error;
  });
  try {
    await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
    client.off('error', remember);
  }
}
