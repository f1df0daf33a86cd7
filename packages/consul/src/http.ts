/**
 * The only place that talks HTTP: plain `fetch` against Consul's documented HTTP API, with the
 * ACL token, datacenter, a timeout on every request, and transport failures mapped to
 * `BackendUnavailableError`. Status codes are returned to the caller, who knows which ones are
 * answers (404 for a missing key, 409 for a rolled-back transaction) and which are failures.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { backendFailure } from '@lockstep/core/driver';

/** The `fetch` signature we need (the global one, or the user's own). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Settings of a {@link ConsulHttp}. */
export interface ConsulHttpOptions {
  /** `http://host:port` or `https://host:port` of a Consul agent. */
  readonly baseUrl: URL;
  /** ACL token, sent as `X-Consul-Token`. */
  readonly token?: string;
  /** Datacenter (`?dc=`); default: the agent's own. */
  readonly datacenter?: string;
  /** Timeout of requests that do not block. */
  readonly requestTimeoutMs: number;
  /** Replaces the global `fetch` (custom TLS agents, proxies, instrumentation). */
  readonly fetch?: FetchLike;
}

/** One request. */
export interface ConsulRequest {
  readonly method: 'GET' | 'PUT';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  /** Overrides the default timeout (blocking queries need longer). */
  readonly timeoutMs?: number;
  /** Cancels the request; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** What we were doing, for error messages. */
  readonly doing: string;
}

/** An answer, whatever its status. */
export interface ConsulReply {
  readonly status: number;
  /** `X-Consul-Index`, when present. */
  readonly index: bigint | undefined;
  readonly text: string;
}

/** A small Consul HTTP client over `fetch`. */
export class ConsulHttp {
  /** Default timeout of non-blocking requests. */
  readonly requestTimeoutMs: number;
  readonly #fetch: FetchLike;
  readonly #headers: Record<string, string>;
  readonly #origin: string;
  readonly #dc: string;

  constructor(options: ConsulHttpOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#headers = options.token ? { 'X-Consul-Token': options.token } : {};
    this.#origin = options.baseUrl.origin;
    this.#dc = options.datacenter ? `dc=${encodeURIComponent(options.datacenter)}` : '';
  }

  /**
   * Sends one request and reads the whole answer.
   * @throws BackendUnavailableError when Consul cannot be reached or does not answer in time.
   * @throws `request.signal.reason` when the caller cancelled.
   */
  async send(request: ConsulRequest): Promise<ConsulReply> {
    const timeoutMs = Math.max(1, Math.ceil(request.timeoutMs ?? this.requestTimeoutMs));
    // One controller per request, with listeners removed afterwards: long-lived caller signals
    // (a watch loop's) must not accumulate dependents (AbortSignal.any would).
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onCancel = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', onCancel, { once: true });
    try {
      request.signal?.throwIfAborted();
      const { body } = request;
      const headers = body === undefined ? this.#headers : { ...this.#headers, 'Content-Type': 'text/plain' };
      const response = await this.#fetch(this.#url(request), {
        method: request.method,
        headers,
        body,
        signal: controller.signal,
      });
      const text = await response.text();
      const index = response.headers.get('X-Consul-Index');
      return {
        status: response.status,
        index: index && /^\d+$/.test(index) ? BigInt(index) : undefined,
        text,
      };
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason;
      // fetch says only "fetch failed"; what went wrong (ECONNREFUSED, …) is its cause.
      const why = controller.signal.aborted ? controller.signal.reason : ((error as Error).cause ?? error);
      throw backendFailure('consul', request.doing, why);
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onCancel);
    }
  }

  /** A reply with an unexpected status, as a typed error carrying Consul's own message. */
  failure(reply: ConsulReply, doing: string): BackendUnavailableError {
    const detail = reply.text.trim().slice(0, 300) || '(empty body)';
    return new BackendUnavailableError('consul', `${doing} failed: HTTP ${reply.status}: ${detail}`);
  }

  /** The request URL; built by hand, as this runs for every request. */
  #url(request: ConsulRequest): string {
    const params: string[] = [];
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) params.push(value === '' ? name : `${name}=${encodeURIComponent(value)}`);
    }
    if (this.#dc) params.push(this.#dc);
    return `${this.#origin}${request.path}${params.length > 0 ? `?${params.join('&')}` : ''}`;
  }
}
