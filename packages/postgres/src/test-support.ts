/**
 * Helpers shared by this package's tests (not exported by the package).
 */
import { randomBytes } from 'node:crypto';
import { type Coordinator, connect } from '@lockstep/core';
import pg from 'pg';
import { onTestFinished } from 'vitest';
import { postgresCoordinator } from './coordinator.js';
import './index.js';
import type { PostgresAdapterOptions, PostgresConnectOptions } from './options.js';

/** A coordinator from a URL, closed when the current test ends. */
export async function open(url: string, options: PostgresConnectOptions = {}): Promise<Coordinator> {
  const coord = await connect(url, options);
  onTestFinished(() => coord.close());
  return coord;
}

/** A raw pg client for inspecting the server, closed when the current test ends. */
export async function rawClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  onTestFinished(() => client.end().catch(() => {}));
  return client;
}

/** A prefix no other test uses. */
export function freshPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** An application_name no other test uses, to count a coordinator's connections. */
export function freshAppName(): string {
  return `lockstep-test-${randomBytes(4).toString('hex')}`;
}

/** `url` with `application_name` set (pg reads it from the connection string). */
export function withAppName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.href;
}

/** Connections the server has open for `applicationName`. */
export async function connectionsOf(raw: pg.Client, applicationName: string): Promise<number> {
  const result = await raw.query(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );
  return result.rows[0].n;
}

/** Advisory lock rows in `pg_locks` (granted and waiting), optionally for one backend. */
export async function advisoryLocks(
  raw: pg.Client,
): Promise<Array<{ pid: number; granted: boolean; classid: string; objid: string; objsubid: number }>> {
  const result = await raw.query(
    `SELECT pid, granted, classid::text, objid::text, objsubid FROM pg_locks
     WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return result.rows;
}

/**
 * A pool whose clients count the statements they send (each one is one round trip: pg does
 * not pipeline) and are remembered, so a test can reach the connections lockstep pinned.
 */
export function countingPool(
  url: string,
  max = 10,
): { pool: pg.Pool; clients: pg.Client[]; readonly statements: number; named(kind: string): number } {
  const clients: CountingClient[] = [];
  let statements = 0;
  // Per kind of lockstep's named statements (`lockstep_<kind>_<digest>`).
  const byKind = new Map<string, number>();
  class CountingClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super(config);
      clients.push(this);
    }
    // biome-ignore lint/suspicious/noExplicitAny: pass-through of pg's overloads
    override query(...args: any[]): any {
      statements++;
      const kind = /^lockstep_(.+)_[0-9a-f]{16}$/.exec(args[0]?.name ?? '')?.[1];
      if (kind) byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
      // biome-ignore lint/suspicious/noExplicitAny: pass-through of pg's overloads
      return (super.query as any)(...args);
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max,
    Client: CountingClient as unknown as typeof pg.Client,
  });
  pool.on('error', () => {});
  onTestFinished(() => pool.end().catch(() => {}));
  return {
    pool,
    clients,
    get statements() {
      return statements;
    },
    named: (kind) => byKind.get(kind) ?? 0,
  };
}

/** A coordinator over a pool, closed when the current test ends. */
export function overPool(pool: pg.Pool, options: PostgresAdapterOptions = {}): Coordinator {
  const coord = postgresCoordinator(pool, options);
  onTestFinished(() => coord.close());
  return coord;
}

/** Resolves when `signal` aborts, with the time it took from `since`. */
export function abortedAfter(signal: AbortSignal, since: number): Promise<number> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(performance.now() - since);
    signal.addEventListener('abort', () => resolve(performance.now() - since), { once: true });
  });
}

// The same timing helpers the interop scenarios use.
export { eventually, within } from '@lockstep/conformance/interop';

/** The error and its causes, outermost first. */
export function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 10) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}
