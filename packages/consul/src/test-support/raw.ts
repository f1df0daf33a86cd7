/**
 * Raw Consul HTTP calls for assertions and for playing the other side (another client, an
 * operator), written against the documented API with plain fetch — independent of the adapter.
 */

/** One recorded request. */
export interface CountedCall {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  /**
   * A session's own upkeep, sent on its timers whatever the operations do: a renewal, the
   * blocking query on the session, a batch of `check-session` transactions over its held keys.
   */
  upkeep: boolean;
}

/** Whether a request is a session's upkeep (see {@link CountedCall.upkeep}). */
function isUpkeep(method: string, path: string, body: unknown): boolean {
  if (path.startsWith('/v1/session/renew/') || path.startsWith('/v1/session/info/')) return true;
  if (method !== 'PUT' || path !== '/v1/txn' || typeof body !== 'string') return false;
  const ops = JSON.parse(body) as Array<{ KV?: { Verb?: string } }>;
  return ops.length > 0 && ops.every((op) => op.KV?.Verb === 'check-session');
}

/**
 * A fetch that records every request (method and path) it sends. `work()` lists the requests an
 * operation sent, without the sessions' upkeep, which runs on its own timers (every TTL/3 at the
 * 1 s TTLs of these tests) and lands in any window of a slow enough run; `count` counts those too.
 */
export function countingFetch(): {
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  calls: CountedCall[];
  work(): string[];
  count(method: string, path: string | RegExp): number;
  reset(): void;
} {
  const calls: CountedCall[] = [];
  return {
    calls,
    fetch: (input, init) => {
      const url = new URL(input);
      const method = init.method ?? 'GET';
      calls.push({
        method,
        path: url.pathname,
        query: url.search,
        headers: { ...(init.headers as Record<string, string>) },
        upkeep: isUpkeep(method, url.pathname, init.body),
      });
      return fetch(input, init);
    },
    work: () => calls.filter((c) => !c.upkeep).map((c) => `${c.method} ${c.path}`),
    count: (method, path) =>
      calls.filter(
        (c) =>
          !c.upkeep &&
          c.method === method &&
          (typeof path === 'string' ? c.path === path : path.test(c.path)),
      ).length,
    reset: () => {
      calls.length = 0;
    },
  };
}

/** A KV entry with the fields the tests look at (indexes as bigint, value decoded). */
export interface RawEntry {
  Key: string;
  Session?: string;
  Flags: bigint;
  LockIndex: bigint;
  CreateIndex: bigint;
  ModifyIndex: bigint;
  Value: string;
}

function parseEntries(text: string): RawEntry[] {
  const exact = text.replace(/"(Flags|LockIndex|CreateIndex|ModifyIndex)":(\d+)/g, '"$1":"$2"');
  return (JSON.parse(exact) as Array<Record<string, unknown>>).map((e) => ({
    Key: e.Key as string,
    Session: (e.Session as string | undefined) ?? undefined,
    Flags: BigInt(e.Flags as string),
    LockIndex: BigInt(e.LockIndex as string),
    CreateIndex: BigInt(e.CreateIndex as string),
    ModifyIndex: BigInt(e.ModifyIndex as string),
    Value: e.Value ? Buffer.from(e.Value as string, 'base64').toString('utf8') : '',
  }));
}

/** Raw calls against one agent. */
export class RawConsul {
  constructor(readonly httpUrl: string) {}

  async get(key: string): Promise<RawEntry | undefined> {
    const res = await fetch(`${this.httpUrl}/v1/kv/${key}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${key}: ${res.status} ${await res.text()}`);
    return parseEntries(await res.text())[0];
  }

  /** Every entry under `prefix` (`?recurse`), in key order. */
  async list(prefix: string): Promise<RawEntry[]> {
    const res = await fetch(`${this.httpUrl}/v1/kv/${prefix}?recurse`);
    if (res.status === 404) return [];
    if (res.status !== 200) throw new Error(`GET ${prefix}?recurse: ${res.status} ${await res.text()}`);
    return parseEntries(await res.text());
  }

  async keys(prefix: string): Promise<string[]> {
    const res = await fetch(`${this.httpUrl}/v1/kv/${prefix}?keys`);
    if (res.status === 404) return [];
    return (await res.json()) as string[];
  }

  async put(key: string, value: string, query = ''): Promise<boolean> {
    const res = await fetch(`${this.httpUrl}/v1/kv/${key}${query}`, { method: 'PUT', body: value });
    if (res.status !== 200) throw new Error(`PUT ${key}${query}: ${res.status} ${await res.text()}`);
    return (await res.json()) as boolean;
  }

  async delete(key: string): Promise<void> {
    await fetch(`${this.httpUrl}/v1/kv/${key}`, { method: 'DELETE' });
  }

  async createSession(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${this.httpUrl}/v1/session/create`, {
      method: 'PUT',
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`session create: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { ID: string }).ID;
  }

  async destroySession(id: string): Promise<void> {
    await fetch(`${this.httpUrl}/v1/session/destroy/${id}`, { method: 'PUT' });
  }

  async sessionInfo(id: string): Promise<Record<string, unknown> | undefined> {
    const res = await fetch(`${this.httpUrl}/v1/session/info/${id}`);
    return ((await res.json()) as Array<Record<string, unknown>>)[0];
  }

  async sessions(): Promise<Array<Record<string, unknown>>> {
    return (await (await fetch(`${this.httpUrl}/v1/session/list`)).json()) as Array<Record<string, unknown>>;
  }

  async renewSession(id: string): Promise<number> {
    return (await fetch(`${this.httpUrl}/v1/session/renew/${id}`, { method: 'PUT' })).status;
  }
}
