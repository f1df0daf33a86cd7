/**
 * The HTTP front of the emulator: plain `node:http`, routing like Consul's agent (Go's ServeMux
 * path cleaning, the printable-path filter, 405 for a wrong method), then the endpoint handlers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleAgent } from './endpoints/agent.js';
import type { RequestContext } from './endpoints/context.js';
import { handleKv, hasEncodedTraversal, KV_PREFIX } from './endpoints/kv.js';
import { handleSession } from './endpoints/session.js';
import { handleTxn } from './endpoints/txn.js';
import { cleanPath, encodePath, HttpError, isPrintable, send, sendText } from './http-kit.js';
import { type ConsulEmulatorOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { ConsulState } from './state.js';

/** Sent on every response so nothing the emulator says can pass for a real Consul agent. */
export const EMULATOR_HEADER = 'X-Lockstep-Emulator';

interface Route {
  readonly matches: (path: string) => boolean;
  readonly methods: readonly string[];
  readonly handle: (ctx: RequestContext) => Promise<void> | void;
}

const ROUTES: readonly Route[] = [
  { matches: (p) => p.startsWith(KV_PREFIX), methods: ['GET', 'PUT', 'DELETE'], handle: handleKv },
  { matches: (p) => p === '/v1/txn', methods: ['PUT'], handle: handleTxn },
  {
    matches: (p) =>
      p === '/v1/session/create' ||
      p.startsWith('/v1/session/destroy/') ||
      p.startsWith('/v1/session/renew/'),
    methods: ['PUT'],
    handle: handleSession,
  },
  {
    matches: (p) => p.startsWith('/v1/session/info/') || p === '/v1/session/list',
    methods: ['GET'],
    handle: handleSession,
  },
  {
    matches: (p) => p === '/v1/status/leader' || p === '/v1/status/peers' || p === '/v1/agent/self',
    methods: ['GET'],
    handle: handleAgent,
  },
];

function redirect(res: ServerResponse, path: string, rawQuery: string): void {
  const location = encodePath(path) + (rawQuery === '' ? '' : `?${rawQuery}`);
  send(res, 301, `<a href="${location}">Moved Permanently</a>.\n`, 'text/html; charset=utf-8', {
    Location: location,
  });
}

async function dispatch(
  req: IncomingMessage,
  res: ServerResponse,
  state: ConsulState,
  options: ResolvedOptions,
  signal: AbortSignal,
): Promise<void> {
  const target = req.url ?? '/';
  const split = target.indexOf('?');
  const rawPath = split === -1 ? target : target.slice(0, split);
  const rawQuery = split === -1 ? '' : target.slice(split + 1);

  if (options.kvKeyValidation && rawPath.startsWith(KV_PREFIX) && hasEncodedTraversal(rawPath)) {
    throw new HttpError(400, 'URL path contains an encoded path traversal sequence');
  }
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new HttpError(400, 'invalid URL escape in path');
  }
  if (!isPrintable(path)) throw new HttpError(400, 'path contains unprintable characters');
  // Go's ServeMux answers a non-canonical path (`//`, `/./`, `/../`) with a redirect to the clean one,
  // so two spellings of a key never reach the KV store as different keys.
  const canonical = cleanPath(path);
  if (canonical !== path) return redirect(res, canonical, rawQuery);
  if (path === '/v1/kv') return redirect(res, KV_PREFIX, rawQuery);

  const query = new URLSearchParams(rawQuery);
  const dc = query.get('dc');
  if (dc !== null && dc !== '' && dc !== 'dc1') throw new HttpError(500, 'No path to datacenter');

  const route = ROUTES.find((candidate) => candidate.matches(path));
  if (!route) return sendText(res, 404, '404 page not found\n');
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS')
    return send(res, 200, '', 'text/plain', { Allow: ['OPTIONS', ...route.methods].join(',') });
  if (!route.methods.includes(method)) throw new HttpError(405, `method ${method} not allowed`);

  await route.handle({ req, res, path, query, state, options, signal });
}

/** A running emulator. */
export interface ConsulEmulator {
  /** `consul://HOST:PORT`, the URL lockstep's `connect()` takes. */
  readonly url: string;
  /** `http://HOST:PORT`, for plain HTTP clients. */
  readonly httpUrl: string;
  readonly host: string;
  readonly port: number;
  /** Stops listening, ends blocked queries and open connections, clears TTL timers. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a Consul HTTP API emulator in this process. State lives in memory and disappears on close.
 *
 * It follows Consul's documented HTTP API for what a lock/counter client uses — sessions, KV with
 * acquire/release/cas, blocking queries, `/v1/txn` KV verbs — and nothing else (no ACLs, catalog,
 * health checks or multi-server behaviour). Every response carries `X-Lockstep-Emulator: true`;
 * results obtained against it must be labelled as emulator results, never as Consul results.
 *
 * @throws ConsulEmulatorOptionError for an option outside its documented range.
 */
export async function startConsulEmulator(options: ConsulEmulatorOptions = {}): Promise<ConsulEmulator> {
  const resolved = resolveOptions(options);
  const state = new ConsulState(resolved);
  // One controller per request in flight: aborted when its client goes away or the server closes.
  const inFlight = new Set<AbortController>();

  const server: Server = createServer((req, res) => {
    res.setHeader(EMULATOR_HEADER, 'true');
    const request = new AbortController();
    inFlight.add(request);
    res.once('close', () => {
      inFlight.delete(request);
      request.abort();
    });
    dispatch(req, res, state, resolved, request.signal).catch((error: unknown) => {
      if (error instanceof HttpError) return sendText(res, error.status, error.message);
      sendText(
        res,
        500,
        `lockstep consul emulator: internal error: ${(error as Error)?.message ?? String(error)}`,
      );
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  const hostInUrl = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
  let closed: Promise<void> | undefined;

  return {
    url: `consul://${hostInUrl}:${port}`,
    httpUrl: `http://${hostInUrl}:${port}`,
    host: resolved.host,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const request of inFlight) request.abort();
        state.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
