import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../backends/load.js';
import { skipInterop } from '../interop/run.js';
import { renderMarkdown } from '../report/markdown.js';
import { runCompare } from './run.js';

describe('runCompare', () => {
  it('keeps unavailable backends in the report, every test skipped with the reason', async () => {
    const memory = await loadProfile('memory');
    const outcome = await runCompare({
      backends: ['memory', 'redis', 'etcd'],
      bench: false,
      select: { only: ['lock.try'] },
      load: async (name) => {
        if (name === 'memory') return memory;
        if (name === 'etcd') return { ok: false, reason: 'adapter profile not available yet' };
        return {
          ok: true,
          profile: {
            name,
            adapterModule: '@lockstep/redis',
            provision: async () => {
              throw new Error('no redis-server on PATH (test)');
            },
          },
        };
      },
    });
    const [memoryReport, redis, etcd] = outcome.report.backends;
    expect(memoryReport!.tests.find((t) => t.id === 'lock.try')).toMatchObject({ status: 'pass' });
    expect(memoryReport!.capabilities).toHaveProperty('lock.fencing', 'monotonic');
    expect(redis!.tests).toHaveLength(21);
    expect(
      redis!.tests.every((t) => t.status === 'skip' && t.reason?.includes('no redis-server on PATH')),
    ).toBe(true);
    expect(etcd!.tests.every((t) => t.reason === 'adapter profile not available yet')).toBe(true);
    expect([...outcome.unprovisioned.keys()]).toEqual(['redis', 'etcd']);
    expect(outcome.failures).toEqual([]);
  });
});

describe('runCompare with interop scenarios', () => {
  it('adds one row per interop id after the suite: fail beats skip beats pass, cleanups always run', async () => {
    const memory = await loadProfile('memory');
    if (!memory.ok) throw new Error(memory.reason);
    const cleaned: string[] = [];
    const outcome = await runCompare({
      backends: ['memory'],
      bench: false,
      load: async () => ({
        ok: true,
        profile: {
          ...memory.profile,
          interop: async () => [
            {
              id: 'interop.both',
              title: 'holds a lock at a native place',
              run: async (_target, ctx) => {
                const coord = await ctx.open();
                const held = await coord.lock('x').acquire();
                ctx.defer(() => cleaned.push('both-1'));
                await held.release();
              },
            },
            { id: 'interop.both', title: 'passes too', run: async () => {} },
            {
              id: 'interop.broken',
              title: 'fails',
              run: async (_target, ctx) => {
                ctx.defer(() => cleaned.push('broken'));
                throw new Error('peer held it too');
              },
            },
            {
              id: 'interop.absent',
              title: 'cannot run',
              run: async () => skipInterop('no peer binary (test)'),
            },
          ],
        },
      }),
    });
    const tests = outcome.report.backends[0]!.tests;
    expect(tests).toHaveLength(24);
    expect(tests.slice(21).map((t) => [t.id, t.status])).toEqual([
      ['interop.both', 'pass'],
      ['interop.broken', 'fail'],
      ['interop.absent', 'skip'],
    ]);
    expect(tests[22]!.reason).toContain('fails: Error: peer held it too');
    expect(tests[23]!.reason).toContain('no peer binary (test)');
    expect(cleaned.sort()).toEqual(['both-1', 'broken']);
    expect(outcome.failures).toEqual([expect.stringContaining('memory interop.broken')]);
    const markdown = renderMarkdown(outcome.report);
    expect(markdown).toMatch(/\| `interop\.both` \| ✓ \|/);
    expect(markdown).toMatch(/\| `interop\.broken` \| ✗/);
  }, 120_000);
});

/** Runs the CLI from sources at the repository root, as `pnpm compare` does. */
function runCli(
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeout: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const node = ['--import', 'tsx', '--conditions=@lockstep/source', 'conformance/src/cli.ts'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...node, ...args],
      { cwd: root, env: options.env, timeout: options.timeout },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('compare CLI', () => {
  it('pnpm compare --only memory: exit 0, the matrix on stdout, three report files', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lockstep-cli-'));
    try {
      const { code, stdout, stderr } = await runCli(
        ['compare', '--only', 'memory', '--no-bench', '--out', out],
        {
          env: { ...process.env, LOCKSTEP_REQUIRE: '' },
          timeout: 120_000,
        },
      );
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/lock\.exclusive\s+✓/);
      expect(stderr).toMatch(/\[1\/1\] memory: pass lock\.exclusive/);
      for (const file of ['report.json', 'report.md', 'report.html'])
        expect(existsSync(join(out, file))).toBe(true);
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      expect(report.backends[0].name).toBe('memory');
      expect(report.backends[0].source).toBe('embedded');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 150_000);

  it('exits 2 with the usage on bad arguments', async () => {
    const { code } = await runCli(['compare', '--only', 'mongodb'], { timeout: 60_000 });
    expect(code).toBe(2);
  }, 90_000);
});
