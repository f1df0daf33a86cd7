import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFlashSale } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-stock-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([['memory://stock-test'], [`file://${dir}`]])('flash sale on %s', (url) => {
  it('never oversells: sold + left = stock, and every refusal happened only when stock ran short', async () => {
    const r = await runFlashSale(url, 20, 60);
    expect(r.left).toBeGreaterThanOrEqual(0);
    expect(r.sold + r.left).toBe(20);
    // 60 buyers asking 1 or 2 items each want 90: the stock must run out (0 or 1 left,
    // when the last requests were all for 2).
    expect(r.left).toBeLessThanOrEqual(1);
    expect(r.refused).toBeGreaterThan(0);
  });
});
