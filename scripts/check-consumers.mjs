#!/usr/bin/env node
// The packed adapters as an application gets them: every tarball installed with plain npm into
// an empty app, next to the oldest and the newest client versions each adapter supports. For
// each version set, one app holds an ESM program, a CommonJS program and the same program in
// TypeScript (strict, checked with moduleResolution node16 — as ESM and as CommonJS — and
// bundler). Each program builds every adapter's coordinator both from a URL and over the
// application's own client (`redisCoordinator(new Redis())` …) and takes a lock on a real
// server. The TypeScript programs are compiled without skipLibCheck, so the published
// declarations are checked against the application's own copy of each client.
//
// The versions tested are written once, below: each must satisfy the adapter's peer range, the
// oldest must be the floor of that range, and the adapter's README must name both
// ("tested with <client> <oldest> and <newest>").
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAll, root, sh } from './pack.mjs';

/** Per adapter: its client, and the oldest and newest client versions it is tested with. */
export const CLIENT_MATRIX = {
  '@lockstep/redis': { client: 'ioredis', oldest: '5.2.5', newest: '6.1.0' },
  '@lockstep/etcd': { client: 'etcd3', oldest: '1.1.0', newest: '1.1.2' },
  '@lockstep/zookeeper': { client: 'node-zookeeper-client', oldest: '1.1.0', newest: '1.1.3' },
  '@lockstep/postgres': { client: 'pg', oldest: '8.0.3', newest: '8.23.1' },
};
/**
 * Type packages a TypeScript application adds, per version set: for the clients that ship no
 * declarations, and for redis-errors, which ioredis's own declarations import (without it no
 * application compiles ioredis's types under skipLibCheck: false, lockstep or not).
 */
const TYPES = {
  oldest: { '@types/pg': '8.6.0', '@types/node-zookeeper-client': '1.1.0', '@types/redis-errors': '1.2.3' },
  newest: { '@types/pg': '8.23.1', '@types/node-zookeeper-client': '1.1.0', '@types/redis-errors': '1.2.3' },
};

const started = Date.now();
const problems = [];
const fail = (message) => {
  problems.push(message);
  console.log(`FAIL ${message}`);
};

/** `^1.2.3 || ^2.0.0` → 1.2.3: the lowest version a range of caret alternatives admits. */
function floorOf(range) {
  const floors = range.split('||').map((part) => /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(part));
  if (floors.some((m) => !m)) return undefined;
  return floors
    .map((m) => m.slice(1).map(Number))
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])[0]
    .join('.');
}

/** Whether `version` satisfies a range of caret alternatives (`^a.b.c || ^x.y.z`). */
function satisfiesCarets(version, range) {
  const [major, minor, patch] = version.split('.').map(Number);
  return range.split('||').some((part) => {
    const m = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (!m) return false;
    const [a, b, c] = m.slice(1).map(Number);
    if (major !== a) return false;
    if (a === 0) return minor === b && patch >= c;
    return minor > b || (minor === b && patch >= c);
  });
}

const probeProgram = (flavour) => {
  const typed = flavour === 'mts' || flavour === 'cts';
  const imports =
    flavour === 'cjs'
      ? `const { connect } = require('@lockstep/core');
const { redisCoordinator } = require('@lockstep/redis');
const { etcdCoordinator } = require('@lockstep/etcd');
const { zookeeperCoordinator } = require('@lockstep/zookeeper');
const { postgresCoordinator } = require('@lockstep/postgres');
const { Redis } = require('ioredis');
const { Etcd3 } = require('etcd3');
const { createClient } = require('node-zookeeper-client');
const pg = require('pg');`
      : `import { connect${typed ? ', type Coordinator' : ''} } from '@lockstep/core';
import { redisCoordinator } from '@lockstep/redis';
import { etcdCoordinator } from '@lockstep/etcd';
import { zookeeperCoordinator } from '@lockstep/zookeeper';
import { postgresCoordinator } from '@lockstep/postgres';
import { Redis } from 'ioredis';
import { Etcd3 } from 'etcd3';
import { createClient } from 'node-zookeeper-client';
import pg from 'pg';`;
  return `${imports}

const urls = JSON.parse(process.env.LOCKSTEP_CONSUMER_URLS ?? '{}');

async function lockOnce(coord${typed ? ': Coordinator' : ''}, label${typed ? ': string' : ''}) {
  const held = await coord.lock('consumer-${flavour}').acquire({ waitMs: 20_000 });
  if (typeof held.fencingToken !== 'bigint' || held.fencingToken <= 0n) throw new Error(label + ': no fencing token');
  if (!(await held.release())) throw new Error(label + ': release() returned false');
  await coord.close();
}

async function main() {
  for (const url of [urls.redis, urls.etcd, urls.zookeeper, urls.postgres]) await lockOnce(await connect(url), url);

  const redis = new Redis(urls.redis);
  await lockOnce(redisCoordinator(redis), 'redisCoordinator(new Redis())');
  redis.disconnect();

  const etcd = new Etcd3({ hosts: urls.etcd.replace('etcd://', 'http://') });
  await lockOnce(etcdCoordinator(etcd), 'etcdCoordinator(new Etcd3())');
  etcd.close();

  const zookeeper = createClient(urls.zookeeper.replace('zookeeper://', ''), { retries: 0 });
  zookeeper.connect();
  await lockOnce(zookeeperCoordinator(zookeeper), 'zookeeperCoordinator(createClient())');
  zookeeper.close();

  const pool = new pg.Pool({ connectionString: urls.postgres });
  await lockOnce(postgresCoordinator(pool), 'postgresCoordinator(new pg.Pool())');
  await pool.end();
  console.log('${flavour}: a lock on each backend, from a URL and over the app\\'s own client');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;
};

// @lockstep/testing without its optional peer: a wanted container must say what to install.
// DOCKER_HOST makes a runtime look present, so testcontainers is what is missing.
const testingProbe = `import { startServer } from '@lockstep/testing';
process.env.DOCKER_HOST = 'tcp://127.0.0.1:9';
try {
  await startServer('redis', { sources: ['container'] });
  throw new Error('a container server started without testcontainers');
} catch (error) {
  if (!/testcontainers is not installed/.test(error.message)) throw error;
}
console.log('testing: without testcontainers, a wanted container names what to install');
`;

const tsconfig = (options, files) =>
  JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      strict: true,
      skipLibCheck: false,
      types: ['node'],
      ...options,
    },
    files,
  });

/** Installs the tarballs and one version set into an empty app; returns the app's directory. */
function installApp(work, set, tarballs, env) {
  const app = join(work, `app-${set}`);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `consumer-${set}`, private: true }));
  const clients = Object.values(CLIENT_MATRIX).map((entry) => `${entry.client}@${entry[set]}`);
  const types = Object.entries(TYPES[set]).map(([name, version]) => `${name}@${version}`);
  const npm = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'];
  // A peer range that refuses a tested version fails here (ERESOLVE) or warns: both count.
  const result = spawnSync('npm', [...npm, ...tarballs, ...clients, ...types, '@types/node@20'], {
    cwd: app,
    env,
    encoding: 'utf8',
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`${set}: npm install failed:\n${output}`);
  for (const line of output.split('\n').filter((l) => /peer|ERESOLVE/i.test(l)))
    fail(`${set}: npm install: ${line}`);
  return app;
}

/** The app resolved one copy of everything, at the tested versions, and no testcontainers. */
function checkTree(app, set) {
  for (const [adapter, { client }] of Object.entries(CLIENT_MATRIX)) {
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', client, 'package.json'), 'utf8'));
    if (installed.version !== CLIENT_MATRIX[adapter][set])
      fail(`${set}: ${client} ${installed.version} installed instead of ${CLIENT_MATRIX[adapter][set]}`);
    for (const own of [client, '@lockstep/core'])
      if (existsSync(join(app, 'node_modules', adapter, 'node_modules', own)))
        fail(`${set}: ${adapter} installed its own copy of ${own} (it must use the app's: a peer)`);
  }
  if (existsSync(join(app, 'node_modules', 'testcontainers')))
    fail(`${set}: testcontainers was installed; it is an optional peer of @lockstep/testing`);
}

function checkRanges() {
  for (const [adapter, { client, oldest, newest }] of Object.entries(CLIENT_MATRIX)) {
    const dir = join(root, 'packages', adapter.replace('@lockstep/', ''));
    const range = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).peerDependencies?.[client];
    if (!range) {
      fail(`${adapter}: ${client} is not a peer dependency`);
      continue;
    }
    if (floorOf(range) !== oldest)
      fail(
        `${adapter}: peer range ${client}@"${range}" starts below or above the oldest version tested, ${oldest}`,
      );
    if (!satisfiesCarets(newest, range))
      fail(`${adapter}: ${client} ${newest} is tested but outside "${range}"`);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    if (!readme.includes(`${client} ${oldest} and ${newest}`))
      fail(`${adapter}: README does not say it is tested with ${client} ${oldest} and ${newest}`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'lockstep-consumers-'));
const { startServer, stopAllServers } = await import(join(root, 'packages/testing/dist/index.js'));
try {
  checkRanges();
  const packs = packAll(work);
  const wanted = ['@lockstep/core', '@lockstep/testing', ...Object.keys(CLIENT_MATRIX)];
  const tarballs = packs.filter((p) => wanted.includes(p.name)).map((p) => p.tarball);
  const servers = await Promise.all(
    ['redis', 'etcd', 'zookeeper', 'postgres'].map((kind) => startServer(kind)),
  );
  const urls = Object.fromEntries(servers.map((server) => [server.kind, server.url]));
  const env = { ...process.env, LOCKSTEP_CONSUMER_URLS: JSON.stringify(urls) };
  // One npm cache for every install (npm's own, kept between runs): a warm run downloads nothing.
  delete env.npm_config_cache;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const set of ['oldest', 'newest']) {
    const t0 = Date.now();
    const app = installApp(work, set, tarballs, env);
    checkTree(app, set);
    for (const flavour of ['mjs', 'cjs', 'mts', 'cts'])
      writeFileSync(join(app, `app.${flavour}`), probeProgram(flavour));
    writeFileSync(join(app, 'testing.mjs'), testingProbe);
    writeFileSync(
      join(app, 'tsconfig.node16.json'),
      tsconfig({ module: 'node16', moduleResolution: 'node16', outDir: 'out' }, ['app.mts', 'app.cts']),
    );
    writeFileSync(
      join(app, 'tsconfig.bundler.json'),
      tsconfig({ module: 'esnext', moduleResolution: 'bundler', noEmit: true }, ['app.mts']),
    );
    for (const config of ['tsconfig.node16.json', 'tsconfig.bundler.json']) {
      try {
        sh(process.execPath, [tsc, '-p', config], app, env);
        console.log(`ok   ${set}: tsc -p ${config} (strict, no skipLibCheck)`);
      } catch (error) {
        fail(`${set}: tsc -p ${config}:\n${error.stdout}`);
      }
    }
    const programs = ['app.mjs', 'app.cjs', 'testing.mjs'];
    if (existsSync(join(app, 'out'))) programs.push('out/app.mjs', 'out/app.cjs');
    for (const program of programs) {
      try {
        console.log(`ok   ${set}: ${sh(process.execPath, [program], app, env).trim()} (${program})`);
      } catch {
        fail(`${set}: node ${program}`);
      }
    }
    const versions = Object.values(CLIENT_MATRIX).map((e) => `${e.client} ${e[set]}`);
    console.log(`     ${set} (${versions.join(', ')}): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
} finally {
  await stopAllServers();
  rmSync(work, { recursive: true, force: true });
}
console.log(
  `consumer check: ${problems.length === 0 ? 'ok' : `${problems.length} problems`} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
process.exit(problems.length === 0 ? 0 : 1);
