/**
 * The native file-lock binding failing to load must give a typed error that says what
 * failed and what to do, not advice to install the adapter that is already installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_BINDING } from './flock.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-file-binding-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function connectInChild(env: Record<string, string>) {
  const support = (file: string) => fileURLToPath(new URL(`./test-support/${file}`, import.meta.url));
  const result = spawnSync(
    process.execPath,
    [
      '--require',
      support('block-module.cjs'),
      '--import',
      'tsx',
      '--conditions=@lockstep/source',
      support('connect-file.ts'),
      pathToFileURL(dir).href,
    ],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, ...env }, encoding: 'utf8' },
  );
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as {
    ok: boolean;
    name?: string;
    code?: string;
    message?: string;
  };
}

describe('file:// native binding', () => {
  it('connects when the binding loads', () => {
    expect(connectInChild({})).toEqual({ ok: true });
  });

  it('a binding that fails to load gives BackendUnavailableError naming it and the fix', () => {
    const outcome = connectInChild({ LOCKSTEP_TEST_BLOCK_MODULE: LOCK_BINDING });
    expect(outcome.ok).toBe(false);
    expect(outcome.name).toBe('BackendUnavailableError');
    expect(outcome.code).toBe('BACKEND_UNAVAILABLE');
    expect(outcome.message).toContain(`"${LOCK_BINDING}" failed to load`);
    expect(outcome.message).toContain('blocked by the test');
    expect(outcome.message).toContain(`Reinstall @lockstep/file so that ${LOCK_BINDING} is installed`);
    expect(outcome.message).toContain(`keep ${LOCK_BINDING} external`);
    expect(outcome.message).not.toContain('npm install @lockstep/file');
  });
});
