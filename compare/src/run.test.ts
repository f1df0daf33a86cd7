import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_IDS } from '@lockstep/conformance';
import { describe, expect, it } from 'vitest';
import { CRASH_MESSAGE } from './fixtures/error-event-profile.js';
import { renderMarkdown } from './report/markdown.js';
import { writeReport } from './report/write.js';
import { runCompare } from './run.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));
const tinyBox = { warmupMs: 10, durationMs: 60, warmupOps: 0 };

describe('runCompare', () => {
  it('keeps unavailable backends in the report, every test skipped with the reason', async () => {
    const outcome = await runCompare({
      backends: ['memory', 'redis'],
      bench: false,
      select: { only: ['lock.try'] },
      profileModules: { redis: fixture('unprovisionable-profile') },
    });
    const [memory, redis] = outcome.report.backends;
    expect(memory!.tests.find((t) => t.id === 'lock.try')).toMatchObject({ status: 'pass' });
    expect(memory!.capabilities).toHaveProperty('lock.fencing', 'monotonic');
    expect(memory!.scratch).toEqual({
      prefix: expect.stringMatching(/^lockstep-compare\/[0-9a-f]{8}$/),
      removed: true,
    });
    expect(redis!.tests).toHaveLength(TEST_IDS.length);
    expect(
      redis!.tests.every((t) => t.status === 'skip' && t.reason?.includes('no redis-server on PATH')),
    ).toBe(true);
    expect([...outcome.unprovisioned.keys()]).toEqual(['redis']);
    expect(outcome.failures).toEqual([]);
    expect(outcome.report.lockstep?.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(outcome.report.lockstep?.commit).toMatch(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
  }, 120_000);

  it('adds one row per interop id after the suite: fail beats skip beats pass, cleanups always run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-interop-'));
    const logFile = join(dir, 'log');
    process.env.LOCKSTEP_TEST_INTEROP_LOG = logFile;
    try {
      const outcome = await runCompare({
        backends: ['memory'],
        bench: false,
        runId: 'abcd1234',
        profileModules: { memory: fixture('interop-profile') },
      });
      const tests = outcome.report.backends[0]!.tests;
      const suite = TEST_IDS.length;
      expect(tests).toHaveLength(suite + 3);
      expect(tests.slice(suite).map((t) => [t.id, t.status])).toEqual([
        ['interop.both', 'pass'],
        ['interop.broken', 'fail'],
        ['interop.absent', 'skip'],
      ]);
      expect(tests[suite + 1]!.reason).toContain('fails: Error: peer held it too');
      expect(tests[suite + 2]!.reason).toContain('no peer binary (test)');
      const log = readFileSync(logFile, 'utf8').trim().split('\n');
      // Native places are under the run's prefix, so its cleanup finds them.
      expect(log.find((line) => line.startsWith('place '))).toMatch(
        /^place lockstep-compare\/abcd1234\/native-/,
      );
      expect(log.filter((line) => line.startsWith('cleaned ')).sort()).toEqual([
        'cleaned both-1',
        'cleaned broken',
      ]);
      expect(outcome.failures).toEqual([expect.stringContaining('memory interop.broken')]);
      const markdown = renderMarkdown(outcome.report);
      expect(markdown).toMatch(/\| `interop\.both` \| ✓ \|/);
      expect(markdown).toMatch(/\| `interop\.broken` \| ✗/);
    } finally {
      delete process.env.LOCKSTEP_TEST_INTEROP_LOG;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('runCompare contains each backend’s crash', () => {
  it("an unhandled 'error' event under a peer ends only that backend's run: recorded in its row, the next backend runs, the report is written", async () => {
    const out = mkdtempSync(join(tmpdir(), 'lockstep-crash-'));
    try {
      const outcome = await runCompare({
        backends: ['memory', 'file'],
        select: { only: ['lock.try'] },
        benchTimeBox: tinyBox,
        profileModules: { memory: fixture('error-event-profile') },
      });
      const [memory, file] = outcome.report.backends;
      expect(memory!.error).toContain(CRASH_MESSAGE);
      // What ran before the crash is kept.
      expect(memory!.tests.find((t) => t.id === 'lock.try')).toMatchObject({ status: 'pass' });
      expect(file!.error).toBeUndefined();
      expect(file!.tests.find((t) => t.id === 'lock.try')).toMatchObject({ status: 'pass' });
      expect(file!.bench['lock.cycle']).toBeDefined();
      expect(outcome.failures).toEqual([expect.stringContaining(CRASH_MESSAGE)]);

      const written = await writeReport(out, outcome.report);
      const json = JSON.parse(readFileSync(written.json, 'utf8'));
      expect(json.backends[0].error).toContain(CRASH_MESSAGE);
      expect(readFileSync(written.markdown, 'utf8')).toContain(CRASH_MESSAGE);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);

  it('a worker killed mid-suite: its row keeps the finished tests, the rest fail as not run, with how it died', async () => {
    const outcome = await runCompare({
      backends: ['memory'],
      bench: false,
      select: { only: ['lock.try', 'lock.release'] },
      profileModules: { memory: fixture('killed-profile') },
    });
    const [memory] = outcome.report.backends;
    expect(memory!.error).toMatch(/SIGKILL/);
    expect(memory!.tests.find((t) => t.id === 'lock.try')).toMatchObject({ status: 'pass' });
    expect(memory!.tests.find((t) => t.id === 'lock.release')).toMatchObject({
      status: 'fail',
      reason: expect.stringMatching(/^not run: .*SIGKILL/),
    });
    expect(memory!.tests).toHaveLength(TEST_IDS.length);
    expect(outcome.failures).toEqual([expect.stringMatching(/memory: .*SIGKILL/)]);
  }, 120_000);
});

/** Runs the CLI from sources at the repository root, as the built `lockstep-compare` runs. */
function runCli(
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeout: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const node = ['--import', 'tsx', '--conditions=@lockstep/source', 'compare/src/cli.ts'];
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

describe('lockstep-compare CLI', () => {
  it('--only memory (no subcommand): exit 0, only the matrix on stdout, three report files', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lockstep-cli-'));
    try {
      const { code, stdout, stderr } = await runCli(['--only', 'memory', '--no-bench', '--out', out], {
        env: { ...process.env, LOCKSTEP_REQUIRE: '' },
        timeout: 120_000,
      });
      expect(code, stderr).toBe(0);
      expect(stdout.trimStart()).toMatch(/^test\s+memory\n/);
      expect(stdout).toMatch(/lock\.exclusive\s+✓/);
      expect(stdout).not.toMatch(/\[1\/1\]|report:|compare:/);
      expect(stderr).toMatch(/\[1\/1\] memory: pass lock\.exclusive/);
      for (const file of ['report.json', 'report.md', 'report.html'])
        expect(existsSync(join(out, file))).toBe(true);
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      expect(report.backends[0].name).toBe('memory');
      expect(report.backends[0].source).toBe('embedded');
      expect(report.machine.node).toBe(process.version);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 150_000);

  it('still accepts the `compare` subcommand; exits 2 with the usage on bad arguments', async () => {
    const { code, stderr } = await runCli(['compare', '--only', 'mongodb'], { timeout: 60_000 });
    expect(code).toBe(2);
    expect(stderr).toContain('unknown backend "mongodb"');
    expect(stderr).toContain('LOCKSTEP_REQUIRE');
  }, 90_000);

  it('--help says what it accepts, on stdout', async () => {
    const { code, stdout } = await runCli(['--help'], { timeout: 60_000 });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: lockstep-compare/);
    expect(stdout).toContain('--no-bench');
  }, 90_000);
});
