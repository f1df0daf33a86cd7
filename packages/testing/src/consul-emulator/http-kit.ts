/** Small HTTP helpers shared by the endpoint handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJson } from './json.js';

/** An HTTP error answer: status plus a plain-text body, as Consul answers errors. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Consul's default `kv_max_value_size` and suggested Raft entry size: 512 KiB. */
export const MAX_VALUE_BYTES = 512 * 1024;

/** Reads the request body, answering 413 once it exceeds `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    throw new HttpError(413, `Request body (${declared} bytes) too large, max size: ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `Request body too large, max size: ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Headers every blocking-capable read carries (blocking.mdx; setMeta in Consul's HTTP layer). */
export function queryMetaHeaders(index: number): Record<string, string> {
  return {
    'X-Consul-Index': String(index),
    'X-Consul-KnownLeader': 'true',
    'X-Consul-LastContact': '0',
  };
}

export function send(
  res: ServerResponse,
  status: number,
  body: string | Uint8Array,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...headers,
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, status, toJson(value), 'application/json', headers);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  send(res, status, text, 'text/plain; charset=utf-8', headers);
}

/** Parses an unsigned decimal query parameter (uint64); `undefined` when absent. */
export function uintParam(query: URLSearchParams, name: string): bigint | undefined {
  if (!query.has(name)) return undefined;
  const text = query.get(name) ?? '';
  if (!/^\d+$/.test(text) || BigInt(text) > 0xffff_ffff_ffff_ffffn) {
    throw new HttpError(
      400,
      `Invalid ${name} parameter: ${JSON.stringify(text)} is not an unsigned 64-bit integer`,
    );
  }
  return BigInt(text);
}

/** Consul indexes are far below 2^53; a larger requested index simply never matches. */
export function indexFrom(value: bigint): number {
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

/**
 * Canonical form of a URL path, as Go's `net/http` ServeMux (Consul's router) computes it before
 * dispatching: `.` and empty segments removed, `..` resolved, a trailing slash kept.
 */
export function cleanPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  let cleaned = `/${segments.join('/')}`;
  if (path.endsWith('/') && cleaned !== '/') cleaned += '/';
  return cleaned;
}

/** Encodes a decoded path for a Location header, segment by segment. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
 * Consul rejects request paths with anything else unless `disable_http_unprintable_char_filter` is set.
 */
export function isPrintable(text: string): boolean {
  return !/[\p{C}\p{Z}]/u.test(text.replaceAll(' ', ''));
}
