/**
 * Provisioning: reports what is ready and what is missing with the fix; the CLI fails only when
 * LOCKSTEP_REQUIRE lists a kind that stays missing. (Installing with apt-get is not exercised:
 * it needs a machine without the servers.)
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { locateBinaries } from './binaries.js';
import { ensureServerBinaries } from './provisioning.js';
import { SERVER_KINDS } from './types.js';

describe('ensureServerBinaries', () => {
  it('finds what this machine has, consistent with the binary lookup, and says so', async () => {
    const lines: string[] = [];
    const report = await ensureServerBinaries({ install: false, log: (l) => lines.push(l) });
    for (const kind of SERVER_KINDS) {
      if (kind === 'consul') continue;
      if (locateBinaries(kind).found) expect(report.ready.get(kind)).toBe('binary');
    }
    expect(['binary', 'emulator']).toContain(report.ready.get('consul'));
    expect(lines.filter((l) => l.includes('ready')).length).toBe(report.ready.size);
  });

  it('says what is missing and how to fix it when binaries are absent', async () => {
    const lines: string[] = [];
    const report = await ensureServerBinaries({
      kinds: ['redis', 'etcd'],
      install: false,
      env: { PATH: '/nonexistent' },
      log: (l) => lines.push(l),
    });
    expect([...report.missing.keys()]).toEqual(['redis', 'etcd']);
    expect(report.missing.get('redis')).toMatch(/no redis-server on PATH/);
    expect(lines.join('\n')).toMatch(
      /redis\s+MISSING: .*Fix: apt-get install -y redis-server, or set LOCKSTEP_TEST_REDIS_URL/,
    );
    expect(lines.join('\n')).toMatch(/etcd\s+MISSING: .*apt-get install -y etcd-server etcd-client/);
  });

  it('counts a kind given by env URL as ready without looking for binaries', async () => {
    const report = await ensureServerBinaries({
      kinds: ['redis'],
      install: false,
      env: { PATH: '/nonexistent', LOCKSTEP_TEST_REDIS_URL: 'redis://10.1.1.1:6379' },
      log: () => {},
    });
    expect(report.ready.get('redis')).toBe('env');
    expect(report.missing.size).toBe(0);
  });
});

const cli = fileURLToPath(new URL('./provision.ts', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', tsx, cli, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('provision CLI', () => {
  it('exits 1 when LOCKSTEP_REQUIRE lists a kind that cannot be provided, 0 when it does not', async () => {
    const base = { PATH: '/nonexistent', HOME: process.env.HOME };
    const required = await runCli(['--kinds', 'etcd', '--no-install'], { ...base, LOCKSTEP_REQUIRE: 'etcd' });
    expect(required.code).toBe(1);
    expect(required.stderr).toMatch(/FAILED — LOCKSTEP_REQUIRE lists etcd/);
    const optional = await runCli(['--kinds', 'etcd', '--no-install'], base);
    expect(optional.code).toBe(0);
    expect(optional.stderr).toMatch(/etcd\s+MISSING/);
  });

  it('rejects unknown kinds', async () => {
    const result = await runCli(['--kinds', 'mysql'], { PATH: '/nonexistent' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown kind\(s\) mysql/);
  });
});
