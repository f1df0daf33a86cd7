/**
 * Nothing is left behind: stopAllServers() ends every server, cluster node and proxy of this
 * process; a process that exits without stopping, is terminated by SIGTERM, or dies by SIGKILL
 * still takes its servers (and their temp dirs) with it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { faultProxy } from './fault-proxy.js';
import { descendantsOf, isProcessAlive } from './process-group.js';
import { stopAllServers, trackedCount } from './registry.js';
import { startClusterOrSkip, startServerOrSkip } from './require.js';
import { redisCommand } from './test-support/clients.js';
import { waitUntil } from './test-support/wait-until.js';
import type { ServerHandle } from './types.js';

afterAll(async () => {
  await stopAllServers();
});

describe('stopAllServers()', () => {
  it('stops every server, cluster node and proxy this process started: no pid of ours remains', async ({
    skip,
  }) => {
    const single = await startServerOrSkip('postgres', { sources: ['binary'] });
    const cluster = await startClusterOrSkip('redis', 3, { sources: ['binary'] });
    const emulator = await startServerOrSkip('consul', { sources: ['emulator'] });
    for (const p of [single, cluster, emulator]) if (p.skipReason !== undefined) skip(p.skipReason);
    const handles: ServerHandle[] = [single.handle!, ...cluster.handle!.nodes, emulator.handle!];
    const proxy = await faultProxy(handles[1]!.url);
    expect(await redisCommand(proxy.url, ['PING'])).toBe('+PONG');

    // Every process of ours: each server and everything it forked (PostgreSQL's backends).
    const pids = handles.flatMap((h) => [h.pid!, ...descendantsOf(h.pid!)]);
    expect(pids.length).toBeGreaterThan(handles.length);
    expect(pids.every(isProcessAlive)).toBe(true);

    await stopAllServers();
    expect(pids.filter(isProcessAlive)).toEqual([]);
    expect(handles.filter((h) => existsSync(h.dataDir!)).map((h) => h.dataDir)).toEqual([]);
    await expect(redisCommand(proxy.url, ['PING'])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(trackedCount()).toBe(0);
  });
});

const holdServer = fileURLToPath(new URL('./test-support/hold-server.ts', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs hold-server.ts in a child Node process; resolves with the child and what it started. */
async function serverInChild(then: 'wait' | 'exit') {
  const child = spawn(
    process.execPath,
    ['--import', tsx, '--conditions=@lockstep/source', holdServer, 'redis', then],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) =>
      reject(new Error(`hold-server exited (${code}) before starting: ${stderr}`)),
    );
  });
  const started = JSON.parse(line) as { pid: number; dataDir: string; url: string };
  return { child, exited, ...started };
}

describe('servers do not outlive the process that started them', () => {
  it('process.exit() without stopping: the exit hook kills the server and removes its dir', async () => {
    const { exited, pid, dataDir } = await serverInChild('exit');
    expect((await exited).code).toBe(0);
    await waitUntil('the server is gone', () => !isProcessAlive(pid), 5_000);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('SIGTERM: the signal hook kills the server, and the process still terminates', async () => {
    const { child, exited, pid, dataDir, url } = await serverInChild('wait');
    expect(await redisCommand(url, ['PING'])).toBe('+PONG');
    child.kill('SIGTERM');
    expect((await exited).signal).toBe('SIGTERM');
    await waitUntil('the server is gone', () => !isProcessAlive(pid), 5_000);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('SIGKILL (no hook can run): the watchdog kills the server and removes its dir', async () => {
    const { child, exited, pid, dataDir, url } = await serverInChild('wait');
    expect(await redisCommand(url, ['PING'])).toBe('+PONG');
    child.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    await waitUntil('the watchdog killed the server', () => !isProcessAlive(pid), 10_000);
    await waitUntil('the watchdog removed the temp dir', () => !existsSync(dataDir), 10_000);
  });
});
