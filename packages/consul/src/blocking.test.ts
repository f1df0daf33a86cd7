/**
 * The blocking-query loop's rules (features/blocking.mdx), against the server from
 * @lockstep/testing (the emulator here; titles say so) and, for the one case no server produces on
 * demand (an index of 0), against a scripted fetch.
 */
import { describe, expect, it } from 'vitest';
import { followKey, type KeyState, MISSING_KEY_SPACING_MS } from './blocking.js';
import { ConsulHttp, type FetchLike } from './http.js';
import { delay, freshPrefix } from './test-support/helpers.js';
import { countingFetch, RawConsul } from './test-support/raw.js';
import { SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';

const consul = useConsul();

function httpWith(fetchFn: FetchLike, baseUrl = consul().httpUrl): ConsulHttp {
  return new ConsulHttp({ baseUrl: new URL(baseUrl), requestTimeoutMs: 2_000, fetch: fetchFn });
}

describe.skipIf(SKIP_REASON !== undefined)(`blocking queries (${SERVER_LABEL})`, () => {
  it(`reports the first state at once, then only changes, each within a round trip (${SERVER_LABEL})`, async () => {
    const raw = new RawConsul(consul().httpUrl);
    const key = `${freshPrefix()}/k`;
    await raw.put(key, 'v1');
    const states: KeyState[] = [];
    const stop = new AbortController();
    const loop = followKey(httpWith(fetch), {
      key,
      waitMs: 10_000,
      signal: stop.signal,
      onState: (s) => states.push(s),
    });
    await delay(200);
    expect(states).toHaveLength(1);
    await raw.put(`${key}-unrelated`, 'x'); // another key: the wait goes on
    await delay(200);
    expect(states).toHaveLength(1);
    const written = performance.now();
    await raw.put(key, 'v2');
    while (states.length < 2 && performance.now() - written < 2_000) await delay(5);
    expect(performance.now() - written).toBeLessThan(500);
    await raw.delete(key);
    await delay(200);
    expect(states.map((s) => (s.exists ? s.entry.value.toString() : 'missing'))).toEqual([
      'v1',
      'v2',
      'missing',
    ]);
    stop.abort();
    await loop;
  });

  it(`resets the index to 0 when the server answers a lower one (blocking.mdx › Reset the index) (${SERVER_LABEL})`, async () => {
    const counting = countingFetch();
    const key = `${freshPrefix()}/k`;
    await new RawConsul(consul().httpUrl).put(key, 'v');
    const states: KeyState[] = [];
    const stop = new AbortController();
    // An index the server never issued (as after a restore from an older snapshot).
    const loop = followKey(httpWith(counting.fetch), {
      key,
      startIndex: 10n ** 15n,
      waitMs: 1_000,
      signal: stop.signal,
      onState: (s) => states.push(s),
    });
    while (counting.calls.length < 2) await delay(20);
    stop.abort();
    await loop;
    expect(counting.calls[0]?.query).toContain(`index=${10n ** 15n}`);
    expect(counting.calls[1]?.query).not.toContain('index='); // reset: read at once
    expect(states).toHaveLength(1);
  });

  it(`spaces out queries on a missing key while unrelated writes keep ending its wait (rate limit) (${SERVER_LABEL})`, async () => {
    const raw = new RawConsul(consul().httpUrl);
    const prefix = freshPrefix();
    const counting = countingFetch();
    const stop = new AbortController();
    const loop = followKey(httpWith(counting.fetch), {
      key: `${prefix}/missing`,
      waitMs: 10_000,
      signal: stop.signal,
      onState: () => {},
    });
    const until = performance.now() + 1_000;
    let writes = 0;
    while (performance.now() < until) {
      await raw.put(`${prefix}/busy`, String(writes++));
    }
    stop.abort();
    await loop;
    expect(writes).toBeGreaterThan(30);
    expect(counting.calls.length).toBeLessThanOrEqual(Math.ceil(1_000 / MISSING_KEY_SPACING_MS) + 3);
  });
});

describe('blocking queries: index sanity (scripted fetch)', () => {
  it('raises an index below 1 to 1, so a buggy 0 cannot make a hot loop (blocking.mdx › Sanity check)', async () => {
    const queries: string[] = [];
    const scripted: FetchLike = async (input) => {
      queries.push(new URL(input).search);
      const body = '[{"Key":"k","Flags":0,"LockIndex":0,"CreateIndex":1,"ModifyIndex":1,"Value":null}]';
      return new Response(body, { status: 200, headers: { 'X-Consul-Index': '0' } });
    };
    const stop = new AbortController();
    const loop = followKey(httpWith(scripted, 'http://127.0.0.1:1'), {
      key: 'k',
      waitMs: 1_000,
      signal: stop.signal,
      onState: () => {},
    });
    await delay(300);
    stop.abort();
    await loop;
    expect(queries[1]).toContain('index=1');
    // Answers that change nothing back off (50 ms, doubling): a handful, not thousands.
    expect(queries.length).toBeLessThan(10);
  });
});
