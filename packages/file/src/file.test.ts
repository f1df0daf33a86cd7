import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, LockLostError } from '@lockstep/core';
import { afterAll, describe, expect, it } from 'vitest';
import { connectFile } from './index.js';
import { fileOf, stopOutsideSection } from './test-support/children.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-file-test-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A child process that acquires `name` and reports its token on stdout. */
function holder(name: string, ttlMs: number) {
  const script = join(dir, 'holder.mts');
  const indexUrl = new URL('./index.ts', import.meta.url).href;
  writeFileSync(
    script,
    `import { connectFile } from ${JSON.stringify(indexUrl)};
     const coord = connectFile(${JSON.stringify(dir)});
     const held = await coord.lock(${JSON.stringify(name)}, { ttlMs: ${ttlMs} }).acquire();
     held.signal.addEventListener('abort', () => console.log(JSON.stringify({ event: 'lost' })));
     console.log(JSON.stringify({ event: 'acquired', token: held.fencingToken.toString() }));
     setInterval(() => {}, 1000);`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  children.add(child);
  const lines = createInterface({ input: child.stdout! });
  const events: Array<{ event: string; token?: string }> = [];
  const waiters: Array<() => void> = [];
  lines.on('line', (line) => {
    events.push(JSON.parse(line));
    for (const w of waiters.splice(0)) w();
  });
  const next = (event: string) =>
    new Promise<{ event: string; token?: string }>((resolve) => {
      const check = () => {
        const found = events.find((e) => e.event === event);
        if (found) resolve(found);
        else waiters.push(check);
      };
      check();
    });
  return { child, next };
}

describe('file:// backend', () => {
  it('a SIGKILLed holder frees the lock promptly, with a larger token for the next holder', async () => {
    const h = holder('killed', 30_000);
    const { token } = await h.next('acquired');
    const coord = connectFile(dir);
    expect(await coord.lock('killed').tryAcquire()).toBeNull();
    const t0 = performance.now();
    h.child.kill('SIGKILL');
    const next = await coord.lock('killed').acquire({ waitMs: 5_000 });
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(next.fencingToken).toBeGreaterThan(BigInt(token!));
    await next.release();
    await coord.close();
  });

  it('a SIGSTOPped holder loses the lock after its lease and learns it on resume', async () => {
    const h = holder('paused', 400);
    const { token } = await h.next('acquired');
    await stopOutsideSection(h.child, fileOf(dir, 'paused'));
    const coord = connectFile(dir);
    const next = await coord.lock('paused').acquire({ waitMs: 5_000 });
    expect(next.fencingToken).toBeGreaterThan(BigInt(token!));
    h.child.kill('SIGCONT');
    await h.next('lost');
    expect(await next.isHeld()).toBe(true);
    await next.release();
    await coord.close();
  });

  it('counters are exact across coordinators and bounds write nothing', async () => {
    const coords = [connectFile(dir), connectFile(dir), connectFile(dir)];
    await coords[0]!.counter('hits').set(0);
    await Promise.all(coords.flatMap((c) => Array.from({ length: 50 }, () => c.counter('hits').increment())));
    expect(await coords[1]!.counter('hits').get()).toBe(150);
    const stock = coords[2]!.counter('stock', { min: 0 });
    await expect(stock.decrement()).rejects.toThrow(/min/);
    expect(await stock.get()).toBe(0);
    for (const c of coords) await c.close();
  });

  it('long and unusual names stay distinct; wrong directories are refused', async () => {
    const coord = connectFile(dir);
    const names = ['a/b', 'a%2Fb', '..', 'x'.repeat(1024), `${'x'.repeat(1023)}y`, '🔒 lock'];
    const handles = await Promise.all(names.map((n) => coord.lock(n).tryAcquire()));
    expect(handles.every((h) => h !== null)).toBe(true);
    for (const h of handles) await h!.release();
    expect(() => connectFile('/')).toThrow(InvalidArgumentError);
    expect(() => connectFile('relative/dir')).toThrow(InvalidArgumentError);
    writeFileSync(join(dir, 'plain-file'), 'x');
    expect(() => connectFile(join(dir, 'plain-file'))).toThrow(InvalidArgumentError);
    await coord.close();
  });

  it('waiters in other coordinators are woken by the release, not by polling', async () => {
    const a = connectFile(dir);
    const b = connectFile(dir);
    const held = await a.lock('handoff').acquire();
    const waiting = b.lock('handoff').acquire({ waitMs: 5_000 });
    await new Promise((r) => setTimeout(r, 400)); // let the waiter's re-check back off to its cap
    const t0 = performance.now();
    await held.release();
    const next = await waiting;
    expect(performance.now() - t0).toBeLessThan(200);
    expect(held.signal.reason).toBeUndefined();
    expect(next.signal.aborted).toBe(false);
    await next.release();
    await a.close();
    await b.close();
  });

  it('extend after loss rejects with LockLostError', async () => {
    const c = connectFile(dir);
    const held = await c.lock('lease', { ttlMs: 100, autoExtend: false }).acquire();
    await new Promise((resolve) => held.signal.addEventListener('abort', resolve));
    await expect(held.extend()).rejects.toBeInstanceOf(LockLostError);
    await c.close();
  });
});
