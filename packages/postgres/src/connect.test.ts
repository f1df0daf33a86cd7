/**
 * What `connect('postgres://…')` says when it cannot go on, against a real server that asks
 * ordinary roles for a SCRAM password: a missing or wrong password, a role that cannot create
 * lockstep's tables (reported at connect, not at the first lock), a server that never answers.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendUnavailableError } from '@lockstep/core';
import { failedConnect, faultProxy } from '@lockstep/testing';
import { useServer } from '@lockstep/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { migrate, postgresCoordinator } from './index.js';
import { open } from './test-support.js';

const server = useServer('postgres');

const ROLE = 'lockstep_app';
/** A role pg_hba.conf turns away whatever its password. */
const REJECTED_ROLE = 'lockstep_rejected';
const PASSWORD = 'app-secret';
/** A schema the role owns: where it may create lockstep's tables itself. */
const OWN_SCHEMA = 'lockstep_app_own';
/** A schema the role may not even look into. */
const PRIVATE_SCHEMA = 'lockstep_private';
/** A schema the role may not create in, made ready for it by a superuser with migrate(). */
const MIGRATED_SCHEMA = 'lockstep_migrated';

/** The server's URL as `user` (with `password`, if any). */
function urlAs(user: string, password?: string, query = ''): string {
  const url = new URL(server.url);
  url.username = user;
  url.password = password ?? '';
  url.search = query;
  return url.href;
}

async function failure(url: string, connectTimeoutMs = 10_000) {
  const { error, ms } = await failedConnect(url, { connectTimeoutMs });
  expect(error).toBeInstanceOf(BackendUnavailableError);
  return { error: error as BackendUnavailableError, ms };
}

describe('postgres connect: roles, passwords and privileges', () => {
  let skipReason: string | undefined;
  let admin: pg.Client | undefined;
  let originalHba: string | undefined;
  let hbaPath = '';

  beforeAll(async () => {
    const dataDir = server.handle?.dataDir;
    if (dataDir === undefined) {
      skipReason = 'needs to rewrite pg_hba.conf; only a server started by @lockstep/testing has a data dir';
      return;
    }
    hbaPath = join(dataDir, 'pg_hba.conf');
    originalHba = await readFile(hbaPath, 'utf8');
    // The superuser keeps trust (the fixture's probes use it); everyone else needs SCRAM.
    await writeFile(
      hbaPath,
      [
        'host all postgres 127.0.0.1/32 trust',
        `host all ${REJECTED_ROLE} 127.0.0.1/32 reject`,
        'host all all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('SELECT pg_reload_conf()');
    await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
    await admin.query(`CREATE ROLE ${REJECTED_ROLE} LOGIN PASSWORD '${PASSWORD}'`);
    // What PostgreSQL 15 does by default, made explicit for older servers.
    await admin.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await admin.query(`CREATE SCHEMA ${OWN_SCHEMA} AUTHORIZATION ${ROLE}`);
    await admin.query(`CREATE SCHEMA ${PRIVATE_SCHEMA}`);
    const superuser = new pg.Pool({ connectionString: server.url, max: 1 });
    await migrate(superuser, { schema: MIGRATED_SCHEMA });
    await superuser.end();
    await admin.query(`GRANT USAGE ON SCHEMA ${MIGRATED_SCHEMA} TO ${ROLE}`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${MIGRATED_SCHEMA} TO ${ROLE}`);
    await admin.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${MIGRATED_SCHEMA} TO ${ROLE}`);
  }, 60_000);

  afterAll(async () => {
    if (originalHba !== undefined) await writeFile(hbaPath, originalHba);
    await admin?.query('SELECT pg_reload_conf()').catch(() => {});
    await admin?.end();
  });

  beforeEach((context) => {
    if (skipReason !== undefined) context.skip(skipReason);
    // pg would fall back to PGPASSWORD: these tests are about what the URL gives.
    const saved = process.env.PGPASSWORD;
    delete process.env.PGPASSWORD;
    onTestFinished(() => {
      if (saved !== undefined) process.env.PGPASSWORD = saved;
    });
  });

  it('no password for a role that needs one: says the server requires a password and none was given', async () => {
    const { error } = await failure(urlAs(ROLE));
    expect(error.message).toMatch(
      new RegExp(`^postgres: authentication failed for user "${ROLE}" at 127\\.0\\.0\\.1:\\d+ — `),
    );
    expect(error.message).toMatch(/the server requires a password and none was given/);
    expect(error.message).not.toMatch(/SCRAM-SERVER-FIRST-MESSAGE/);
    expect((error.cause as Error).message).toMatch(/client password must be a string/);
  });

  it('a wrong password: an authentication failure naming the server’s answer', async () => {
    const { error } = await failure(urlAs(ROLE, 'wrong'));
    expect(error.message).toMatch(new RegExp(`^postgres: authentication failed for user "${ROLE}"`));
    expect(error.message).toContain(`password authentication failed for user "${ROLE}"`);
    expect(error.message).toMatch(/Check the password/);
  });

  it('a role pg_hba.conf turns away: an authentication failure naming pg_hba.conf', async () => {
    const { error } = await failure(urlAs(REJECTED_ROLE, PASSWORD));
    expect(error.message).toMatch(new RegExp(`^postgres: authentication failed for user "${REJECTED_ROLE}"`));
    expect(error.message).toMatch(/pg_hba\.conf rejects connection/);
  });

  it('a role that cannot create the tables in schema public fails at connect, naming the fixes', async () => {
    const { error } = await failure(urlAs(ROLE, PASSWORD));
    expect(error.message).toMatch(
      new RegExp(`^postgres: role "${ROLE}" cannot create lockstep's tables in schema "public" — `),
    );
    expect(error.message).toMatch(/migrate\(\)/);
    expect(error.message).toMatch(/\?schema=/);
  });

  it('a role without USAGE on the chosen schema fails at connect, naming the GRANT', async () => {
    const { error } = await failure(urlAs(ROLE, PASSWORD, `?schema=${PRIVATE_SCHEMA}`));
    expect(error.message).toMatch(
      new RegExp(
        `^postgres: role "${ROLE}" cannot use schema "${PRIVATE_SCHEMA}" — it has no USAGE privilege`,
      ),
    );
    expect(error.message).toContain(`GRANT USAGE ON SCHEMA "${PRIVATE_SCHEMA}" TO "${ROLE}"`);
  });

  it("over the application's own pool, the first lock says the same", async () => {
    const pool = new pg.Pool({ connectionString: urlAs(ROLE, PASSWORD), max: 2 });
    onTestFinished(() => pool.end());
    const coord = postgresCoordinator(pool);
    onTestFinished(() => coord.close());
    const error = await coord
      .lock('first-use')
      .acquire()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(
      /cannot create lockstep's tables in schema "public" — permission denied for schema public\. /,
    );
    expect((error as Error).message).toMatch(/migrate\(\)/);
  });

  it('the same role works in a schema it owns (tables created on first use)', async () => {
    const coord = await open(urlAs(ROLE, PASSWORD, `?schema=${OWN_SCHEMA}`));
    const held = await coord.lock('own-schema').acquire();
    expect(held.fencingToken > 0n).toBe(true);
    await held.release();
  });

  it('the same role works in a schema migrate() prepared for it', async () => {
    const coord = await open(urlAs(ROLE, PASSWORD, `?schema=${MIGRATED_SCHEMA}`));
    const held = await coord.lock('migrated-schema').acquire();
    expect(held.fencingToken > 0n).toBe(true);
    await held.release();
    expect(await coord.counter('migrated').increment()).toBe(1);
  });
});

describe('postgres connect: a server that never answers', () => {
  it('says the server did not answer within connectTimeoutMs, not that the pool is exhausted', async () => {
    const proxy = await faultProxy(server.url);
    onTestFinished(() => proxy.close());
    proxy.pause();
    const timeoutMs = 1_500;
    const { error, ms } = await failure(proxy.url, timeoutMs);
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 100);
    expect(ms).toBeLessThan(timeoutMs + 2_000);
    expect(error.message).toContain(`did not answer within connectTimeoutMs (${timeoutMs} ms)`);
    expect(error.message).not.toMatch(/no connection to spare/);
  });

  it('waits connectTimeoutMs even when commandTimeoutMs is shorter', async () => {
    const proxy = await faultProxy(server.url);
    onTestFinished(() => proxy.close());
    proxy.pause();
    const { error, ms } = await failedConnect(proxy.url, { connectTimeoutMs: 1_500, commandTimeoutMs: 500 });
    expect(ms).toBeGreaterThanOrEqual(1_400);
    expect((error as Error).message).toContain('did not answer within connectTimeoutMs (1500 ms)');
  });
});
