import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { holdProcessOpen, pendingHolds } from './keepalive.js';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const coreEntry = pathToFileURL(fileURLToPath(new URL('./index.ts', import.meta.url))).href;

/** Runs an ES module whose only work is what `body` awaits; returns its exit code and output. */
function runAlone(body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `import { connect } from ${JSON.stringify(coreEntry)};\n${body}`;
  const child = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const holder = `
const holder = await connect('memory://keepalive');
const waiter = await connect('memory://keepalive');
`;

describe('a pending acquire keeps the process alive', () => {
  it('until waitMs rejects it', async () => {
    const run = await runAlone(`${holder}
await holder.lock('l').acquire();
try { await waiter.lock('l').acquire({ waitMs: 150 }); console.log('granted'); }
catch (error) { console.log('rejected', error.code); }`);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('rejected LOCK_TIMEOUT');
    expect(run.code).toBe(0);
  }, 30_000);

  it("until the caller's signal aborts it", async () => {
    const run = await runAlone(`${holder}
await holder.lock('l').acquire();
try { await waiter.lock('l').acquire({ signal: AbortSignal.timeout(150) }); console.log('granted'); }
catch (error) { console.log('rejected', error.name); }`);
    expect(run.stdout.trim()).toBe('rejected TimeoutError');
    expect(run.code).toBe(0);
  }, 30_000);

  it("until the holder's pure lease runs out and the wait is granted", async () => {
    const run = await runAlone(`${holder}
await holder.lock('l', { ttlMs: 200, autoExtend: false }).acquire();
const held = await waiter.lock('l').acquire();
console.log('granted', String(held.fencingToken));
await held.release();`);
    expect(run.stdout.trim()).toBe('granted 2');
    expect(run.code).toBe(0);
  }, 30_000);

  it('and lets it exit once every wait settled', async () => {
    const run = await runAlone(`${holder}
const held = await holder.lock('l', { ttlMs: 60000 }).acquire();
const wait = waiter.lock('l').acquire({ waitMs: 100 }).catch((e) => e.code);
console.log(await wait);`);
    // The holder's renewal timer is unref'd: nothing else keeps the process, so it exits.
    expect(run.stdout.trim()).toBe('LOCK_TIMEOUT');
    expect(run.code).toBe(0);
  }, 30_000);
});

describe('holdProcessOpen', () => {
  it('counts holds and releases each once', () => {
    const before = pendingHolds();
    const a = holdProcessOpen();
    const b = holdProcessOpen();
    expect(pendingHolds()).toBe(before + 2);
    a();
    a();
    expect(pendingHolds()).toBe(before + 1);
    b();
    expect(pendingHolds()).toBe(before);
  });
});
