/**
 * The raw `pg` client of this package's testing tools, the schema a run keeps its data in,
 * and the server's version.
 * @module
 */
import pg from 'pg';

/** `postgres://…?…` without its query: lockstep's options (`prefix`, `schema` …) are not pg's. */
export function connectionStringOf(url: string): string {
  return url.replace(/[?#].*$/, '');
}

/** A connected raw client; its errors after connecting (a server going away) are ignored. */
export async function rawClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: connectionStringOf(url) });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The `schema` query parameter of a lockstep URL (`undefined` when absent: lockstep uses `public`). */
export function schemaOf(url: string): string | undefined {
  const query = /\?([^#]*)/.exec(url)?.[1];
  return query === undefined ? undefined : (new URLSearchParams(query).get('schema') ?? undefined);
}

/**
 * The schema a run under `prefix` keeps everything in (lockstep's tables and sequence, the
 * floors' table), dropped as a whole by cleanup: `lockstep-compare/1a2b` → `lockstep_compare_1a2b`.
 */
export function runSchema(prefix: string): string {
  return prefix
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase()
    .slice(0, 63);
}

/** `"name"`, a quoted SQL identifier. */
export function quoted(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** `PostgreSQL 15.8 (Debian 15.8-0+deb12u1)`, from the server. */
export async function postgresVersion(url: string): Promise<string> {
  const client = await rawClient(url);
  try {
    const result = await client.query("SELECT current_setting('server_version') AS v");
    return `PostgreSQL ${result.rows[0].v}`;
  } finally {
    await client.end();
  }
}
