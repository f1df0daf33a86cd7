/**
 * The Consul server for this package's tests, from @lockstep/testing: `LOCKSTEP_TEST_CONSUL_URL`, a
 * `consul` binary, a container, or — here, where none exists — the Consul HTTP API emulator. Test
 * titles carry {@link SERVER_LABEL} so that emulator results are never mistaken for Consul results.
 *
 * The emulator is started with `session_ttl_min = 1s` (the same knob a real agent has), so lease
 * tests take seconds instead of tens of seconds; against a real server the documented 10 s applies.
 */
import { requireBackend, type ServerHandle, startServer } from '@lockstep/testing';
import { afterAll, beforeAll } from 'vitest';

const availability = await requireBackend('consul');

/** Where the server comes from, for test titles: `emulator`, or `Consul (env)` and the like. */
export const SERVER_LABEL = availability.available
  ? availability.source === 'emulator'
    ? 'emulator'
    : `Consul (${availability.source})`
  : 'no Consul server';

/** Why the tests are skipped, or undefined when a server is available. */
export const SKIP_REASON = availability.available ? undefined : availability.reason;

/** Whether the server is our emulator (then its session_ttl_min is 1 s). */
export const IS_EMULATOR = availability.available && availability.source === 'emulator';

/** The smallest session TTL the server accepts, in ms. */
export const MIN_TTL_MS = IS_EMULATOR ? 1_000 : 10_000;

/** A running server for one test file. */
export interface ConsulFixture {
  readonly handle: ServerHandle;
  /** `consul://host:port?sessionTtlMinMs=…`: what `connect()` takes. */
  readonly url: string;
  /** `http://host:port`, for raw requests. */
  readonly httpUrl: string;
}

/** Starts the server in `beforeAll`, stops it in `afterAll` (also when tests fail). */
export function useConsul(): () => ConsulFixture {
  let fixture: ConsulFixture | undefined;
  beforeAll(async () => {
    if (SKIP_REASON !== undefined) return;
    const handle = await startServer('consul', { consulEmulator: { sessionTtlMin: '1s' } });
    fixture = {
      handle,
      url: `${handle.url}?sessionTtlMinMs=${MIN_TTL_MS}`,
      httpUrl: `http://${handle.host}:${handle.port}`,
    };
  }, 120_000);
  afterAll(async () => {
    await fixture?.handle.stop();
  }, 120_000);
  return () => {
    if (!fixture) throw new Error(`no Consul server: ${SKIP_REASON ?? 'beforeAll has not run'}`);
    return fixture;
  };
}
