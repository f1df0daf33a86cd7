import { resourceRef } from '@lockstep/core';
import pg from 'pg';
import { postgresDriver } from './driver.js';
import { resolveOptions } from './options.js';

const url = 'postgres://postgres@127.0.0.1:55432/postgres';
const pool = new pg.Pool({ connectionString: url });
const driver = postgresDriver(pool, resolveOptions({}), true);
const ref = resourceRef('bench', 'drv');
const c = new pg.Client(url);
await c.connect();
const mode = process.argv[2];
let n = 0;
const t = performance.now();
const u = process.cpuUsage();
for (let i = 0; i < 20000; i++) {
  if (mode === 'floor') {
    await c.query({ name: 'a', text: 'SELECT pg_try_advisory_lock($1::bigint)', values: ['777'] });
    await c.query({ name: 'b', text: 'SELECT pg_advisory_unlock($1::bigint)', values: ['777'] });
  } else {
    const g = await driver.locks.tryAcquire({ lock: ref, ttlMs: 15000, ownerId: String(n++) });
    await g!.release();
  }
}
const d = process.cpuUsage(u);
console.log(
  mode,
  'wall µs',
  (((performance.now() - t) * 1000) / 20000).toFixed(1),
  'cpu µs',
  ((d.user + d.system) / 20000).toFixed(1),
);
await driver.close();
await c.end();
