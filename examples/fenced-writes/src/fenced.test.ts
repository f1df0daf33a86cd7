import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerHandle, startServer } from '@lockstep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runZombieScenario } from './scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-fenced-test-'));
let postgres: ServerHandle;
beforeAll(async () => {
  postgres = await startServer('postgres');
});
afterAll(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([['memory://fenced-test'], [`file://${dir}`]])('fenced writes with locks on %s', (url) => {
  it("rejects the stalled former holder's write in the database", async () => {
    const result = await runZombieScenario(url, postgres.url, () => {});
    expect(result.tokenB).toBeGreaterThan(result.tokenA);
    expect(result.bWrote).toBe(true);
    expect(result.zombieWrote).toBe(false);
    expect(result.aNoticedLoss).toBe(true);
    expect(result.finalBody).toBe('written by B');
  });
});
