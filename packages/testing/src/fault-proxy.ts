/**
 * `faultProxy(url)`: a TCP proxy in front of one server, for network faults a test controls.
 *
 * Each client connection gets its own upstream connection; bytes flow both ways through a
 * {@link Pipe} per direction, which can hold them (pause), delay them (latency) or be torn down
 * with a TCP reset (cut). The usual tool, toxiproxy, is not always installable; this one is small.
 * @module
 */

import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { InvalidArgumentError } from '@lockstep/core';
import { parseHosts, withHosts } from './env-server.js';
import { type Tracked, track, untrack } from './registry.js';
import { SERVER_KINDS, type ServerKind } from './types.js';

/** A proxy in front of one server. All methods act at once on every connection, open or future. */
export interface FaultProxy {
  /** The server's URL with host and port replaced by the proxy's (scheme, credentials, path kept). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /**
   * Hold every byte in both directions, on open and new connections, until `heal()`. Connections
   * stay open: the peers see silence, as in a partition that drops nothing. Held bytes are
   * delivered in order on heal.
   */
  pause(): void;
  /**
   * Reset every open connection (TCP RST to both sides) and reset new ones as soon as they are
   * accepted, until `heal()`.
   */
  cut(): void;
  /** Back to a clean pipe: releases held bytes, accepts connections again, removes latency. */
  heal(): void;
  /** Delay every chunk by `ms` in each direction (so a round trip gains 2 × ms). 0 removes it. */
  latency(ms: number): void;
  /** Number of client connections currently open through the proxy. */
  readonly connections: number;
  /** Closes the listener and every connection. Idempotent. */
  close(): Promise<void>;
}

interface Faults {
  paused: boolean;
  latencyMs: number;
}

/** One direction of one connection. Order is preserved whatever the faults do. */
class Pipe {
  readonly #queue: { due: number; chunk: Buffer }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #waitingForDrain = false;
  #ended = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly faults: Faults,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.#queue.push({ due: Date.now() + faults.latencyMs, chunk });
      this.flush();
    });
    // A half-close travels like data: after everything queued before it.
    from.on('end', () => {
      this.#ended = true;
      this.flush();
    });
  }

  /** Forwards what may go now and schedules the rest. Called on data, on heal and when latency changes. */
  flush(): void {
    if (this.faults.paused) {
      // Stop reading too, so the sender feels back-pressure instead of us buffering without end.
      this.from.pause();
      return;
    }
    if (this.#waitingForDrain || this.to.destroyed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    while (this.#queue.length > 0 && this.#queue[0]!.due <= now) {
      const { chunk } = this.#queue.shift()!;
      if (!this.to.write(chunk)) {
        this.from.pause();
        this.#waitingForDrain = true;
        this.to.once('drain', () => {
          this.#waitingForDrain = false;
          this.flush();
        });
        return;
      }
    }
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => this.flush(), this.#queue[0]!.due - now);
    } else if (this.#ended) {
      this.to.end();
    } else if (this.from.isPaused()) {
      this.from.resume();
    }
  }

  /** A new latency applies at once to chunks already waiting, if it lets them leave earlier. */
  reschedule(latencyMs: number): void {
    const due = Date.now() + latencyMs;
    for (const item of this.#queue) item.due = Math.min(item.due, due);
    this.flush();
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

interface Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly pipes: readonly Pipe[];
}

function reset(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

class TcpFaultProxy implements FaultProxy, Tracked {
  readonly #faults: Faults = { paused: false, latencyMs: 0 };
  readonly #connections = new Set<Connection>();
  #cut = false;
  #closing: Promise<void> | undefined;
  url = '';
  host = '127.0.0.1';
  port = 0;

  constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.#accept(client));
  }

  #accept(client: Socket): void {
    client.setNoDelay(true);
    if (this.#cut) {
      client.on('error', () => {});
      reset(client);
      return;
    }
    const upstream = tcpConnect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    const pipes = [new Pipe(client, upstream, this.#faults), new Pipe(upstream, client, this.#faults)];
    const connection: Connection = { client, upstream, pipes };
    this.#connections.add(connection);
    const teardown = (error?: Error) => {
      if (!this.#connections.delete(connection)) return;
      for (const pipe of pipes) pipe.dispose();
      // An error (RST) on one side becomes an RST on the other; an orderly close stays orderly.
      if (error) {
        reset(client);
        reset(upstream);
      } else {
        client.destroySoon();
        upstream.destroySoon();
      }
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', () => teardown());
    upstream.on('close', () => teardown());
    if (this.#faults.paused) for (const pipe of pipes) pipe.flush();
  }

  get connections(): number {
    return this.#connections.size;
  }

  pause(): void {
    this.#faults.paused = true;
    for (const { pipes } of this.#connections) for (const pipe of pipes) pipe.flush();
  }

  cut(): void {
    this.#cut = true;
    for (const connection of [...this.#connections]) {
      this.#connections.delete(connection);
      for (const pipe of connection.pipes) pipe.dispose();
      reset(connection.client);
      reset(connection.upstream);
    }
  }

  heal(): void {
    this.#cut = false;
    this.#faults.paused = false;
    this.latency(0);
  }

  latency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new InvalidArgumentError('ms', `latency must be ≥ 0 ms, got ${ms}`);
    this.#faults.latencyMs = ms;
    for (const { pipes } of this.#connections) for (const pipe of pipes) pipe.reschedule(ms);
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      untrack(this);
      this.server.close(() => resolve());
      for (const connection of this.#connections) {
        for (const pipe of connection.pipes) pipe.dispose();
        connection.client.destroy();
        connection.upstream.destroy();
      }
      this.#connections.clear();
    });
    return this.#closing;
  }

  stop(): Promise<void> {
    return this.close();
  }

  killNow(): void {
    void this.close();
  }
}

function kindOfUrl(url: string): ServerKind {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? '';
  const aliases: Record<string, ServerKind> = { rediss: 'redis', redlock: 'redis', postgresql: 'postgres' };
  const kind = aliases[scheme] ?? scheme;
  if (!(SERVER_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidArgumentError(
      'url',
      `faultProxy needs a redis, postgres, etcd, zookeeper or consul URL, got ${url}`,
    );
  }
  return kind as ServerKind;
}

/**
 * Puts a TCP proxy on a free loopback port in front of the single server named by `url`
 * (`redis://…`, `postgres://…`, `etcd://…`, `zookeeper://…`, `consul://…`) and resolves with it.
 * The proxy is stopped by `close()`, by {@link stopAllServers} and at process exit.
 *
 * @throws InvalidArgumentError for a URL naming several hosts (put one proxy before each node) or an unknown scheme.
 */
export async function faultProxy(url: string): Promise<FaultProxy> {
  const hosts = parseHosts(url, kindOfUrl(url));
  if (hosts.length !== 1) {
    throw new InvalidArgumentError(
      'url',
      `faultProxy fronts one server; ${url} names ${hosts.length} (proxy each node)`,
    );
  }
  const target = hosts[0]!;
  const server = createServer({ noDelay: true, allowHalfOpen: true });
  const proxy = new TcpFaultProxy(server, target);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy did not get a TCP address');
  proxy.port = address.port;
  proxy.url = withHosts(url, [{ host: proxy.host, port: proxy.port }]);
  track(proxy);
  return proxy;
}
