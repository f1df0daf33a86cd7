import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCronExample } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-cron-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([['memory://cron-test'], [`file://${dir}`]])('cron job on %s', (url) => {
  it('runs each slot exactly once across 3 instances, never two at a time', async () => {
    const result = await runCronExample(url, 3, 4, 300);
    expect(result.duplicates).toBe(0);
    expect(result.maxRunning).toBe(1);
    // 4 slots of wall time: at least 3 complete slots must have run.
    expect(result.runs.length).toBeGreaterThanOrEqual(3);
    expect(new Set(result.runs.map((r) => r.slot)).size).toBe(result.runs.length);
  });
});
