import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@lockstep/core';
import '@lockstep/file';
import '@lockstep/redis';
import { startServerOrSkip } from '@lockstep/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_BUSY, EXIT_LOST, EXIT_UNAVAILABLE, EXIT_USAGE } from './exit-codes.js';
import { lockstep } from './test-support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-cli-'));
const fileUrl = `file://${dir}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lockstep run', () => {
  it('runs the command under the lock with its fencing token, and exits with its code', async () => {
    const run = lockstep([
      'run',
      fileUrl,
      'job',
      '--',
      'sh',
      '-c',
      'echo "token=$LOCKSTEP_FENCING_TOKEN name=$LOCKSTEP_LOCK_NAME"; exit 7',
    ]);
    const { code, stdout, stderr } = await run.done;
    expect(stdout).toMatch(/^token=\d+ name=job$/m);
    expect(stderr).toMatch(/holding "job" \(fencing token \d+\)/);
    expect(code).toBe(7);
    // Released afterwards: another client gets it at once.
    const coord = await connect(fileUrl);
    const held = await coord.lock('job').tryAcquire();
    expect(held).not.toBeNull();
    await held!.release();
    await coord.close();
  }, 60_000);

  it('--wait 0 skips the command when someone else holds the lock (exit 75)', async () => {
    const coord = await connect(fileUrl);
    const held = await coord.lock('cron').acquire();
    try {
      const { code, stdout, stderr } = await lockstep([
        'run',
        fileUrl,
        'cron',
        '--wait',
        '0',
        '--',
        'echo',
        'ran',
      ]).done;
      expect(code).toBe(EXIT_BUSY);
      expect(stdout).not.toContain('ran');
      expect(stderr).toMatch(/"cron" is held by someone else; not running the command/);
    } finally {
      await held.release();
      await coord.close();
    }
  }, 60_000);

  it('passes signals on to the command and exits as the command did', async () => {
    const run = lockstep([
      'run',
      fileUrl,
      'signals',
      '--json',
      '--',
      'sh',
      '-c',
      'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done',
    ]);
    await run.printed(/^ready$/m);
    run.child.kill('SIGTERM');
    const { code, stderr } = await run.done;
    expect(code).toBe(42);
    const events = stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string });
    expect(events.map((e) => e.event)).toEqual(['acquired', 'exited']);
  }, 60_000);

  it('fails with one line and the fix for bad arguments and unreachable backends', async () => {
    const usage = await lockstep(['run', fileUrl, 'x', '--ttl', 'soon', '--', 'true']).done;
    expect(usage.code).toBe(EXIT_USAGE);
    expect(usage.stderr.trim().split('\n')).toHaveLength(1);
    expect(usage.stderr).toMatch(/--ttl soon: not a duration/);
    const noCommand = await lockstep(['run', fileUrl, 'x']).done;
    expect(noCommand.code).toBe(EXIT_USAGE);
    expect(noCommand.stderr).toMatch(/needs a command after --/);
    const dead = await lockstep(['run', 'redis://127.0.0.1:1?connectTimeoutMs=2000', 'x', '--', 'true']).done;
    expect(dead.code).toBe(EXIT_UNAVAILABLE);
    expect(dead.stderr).toMatch(/ECONNREFUSED/);
    const help = await lockstep(['run', '--help']).done;
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:/);
  }, 60_000);
});

describe('lockstep run on a server that stops answering', () => {
  it('stops the command and exits 76 when the lock is lost', async (context) => {
    const provided = await startServerOrSkip('redis');
    if (!provided.handle) return context.skip(provided.skipReason);
    const redis = provided.handle;
    try {
      const run = lockstep([
        'run',
        `${redis.url}?commandTimeoutMs=300`,
        'fragile',
        '--ttl',
        '1s',
        '--grace',
        '2s',
        '--',
        'sh',
        '-c',
        'trap "echo stopping; exit 0" TERM; echo working; while :; do sleep 0.05; done',
      ]);
      await run.printed(/^working$/m);
      // Frozen server: renewals go unanswered until the lease could have ended.
      await redis.pause();
      const { code, stdout, stderr } = await run.done;
      await redis.resume();
      expect(stderr).toMatch(/lost "fragile"/);
      expect(stdout).toMatch(/stopping/);
      expect(code).toBe(EXIT_LOST);
    } finally {
      await redis.stop();
    }
  }, 90_000);
});

describe('lockstep counter', () => {
  it('gets, increments, decrements and sets, printing the value', async () => {
    const out = async (...args: string[]) =>
      (await lockstep(['counter', fileUrl, 'hits', ...args]).done).stdout.trim();
    expect(await out('set', '10')).toBe('10');
    expect(await out('incr')).toBe('11');
    expect(await out('incr', '5')).toBe('16');
    expect(await out('decr', '2')).toBe('14');
    expect(await out('get')).toBe('14');
    expect(await out('--json')).toBe('{"name":"hits","value":14}');
    const bad = await lockstep(['counter', fileUrl, 'hits', 'incr', '1.5']).done;
    expect(bad.code).toBe(EXIT_USAGE);
  }, 60_000);
});

describe('lockstep lead', () => {
  it('runs the command while leading with its term, campaigns again when it ends, and stops on SIGTERM', async () => {
    const out = join(dir, 'terms.txt');
    const run = lockstep([
      'lead',
      'memory://cli-lead',
      'scheduler',
      '--json',
      '--',
      'sh',
      '-c',
      `echo "$LOCKSTEP_TERM $LOCKSTEP_ELECTION_NAME" >> ${out}; sleep 0.1`,
    ]);
    // A fourth term begins only after the third command ended, so three lines are written by
    // then (at the third term's start its command may not have echoed yet).
    for (let i = 0; i < 4; i++) await run.printed(new RegExp(`("event":"leading".*){${i + 1}}`, 's'));
    run.child.kill('SIGTERM');
    const { code, stderr } = await run.done;
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    const terms = lines.map((line) => BigInt(line.split(' ')[0]!));
    expect(lines.every((line) => line.endsWith(' scheduler'))).toBe(true);
    for (let i = 1; i < terms.length; i++) expect(terms[i]! > terms[i - 1]!).toBe(true);
    expect(terms.length).toBeGreaterThanOrEqual(3);
    expect(stderr).toContain('"event":"campaigning"');
    // Stopped while the command ran (its code) or between terms (as SIGTERM would).
    expect([0, 143]).toContain(code);
  }, 60_000);
});

describe('lockstep inspect', () => {
  it('prints the holders and waiters a backend tells, as lines or JSON', async () => {
    const plain = await lockstep(['inspect', 'memory://cli-inspect', 'job']).done;
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('"job" is free\n0 waiting\n');
    const json = await lockstep(['inspect', 'memory://cli-inspect', 'job', '--json']).done;
    expect(JSON.parse(json.stdout)).toEqual({ name: 'job', holders: [], waiting: 0 });
  }, 60_000);

  it('says in one line when the backend cannot tell (exit 69)', async (context) => {
    // Redlock asks independent servers that know nothing of each other's holders or queues.
    const provided = await startServerOrSkip('redis');
    if (!provided.handle) return context.skip(provided.skipReason);
    const redis = provided.handle;
    try {
      const run = await lockstep(['inspect', redis.url.replace(/^redis:/, 'redlock:'), 'job']).done;
      expect(run.code).toBe(EXIT_UNAVAILABLE);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/inspecting locks/);
    } finally {
      await redis.stop();
    }
  }, 60_000);
});
