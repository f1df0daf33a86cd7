import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { declaredCapabilities, renderCapabilityTable } from './capability-table.js';

describe('README capability table', () => {
  it('matches what every adapter declares (regenerate with `pnpm docs:capabilities`)', async () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const match = /<!-- capabilities:start -->\n([\s\S]*?)\n<!-- capabilities:end -->/.exec(readme);
    expect(match, 'README has the capabilities markers').not.toBeNull();
    expect(match![1]).toBe(renderCapabilityTable(await declaredCapabilities()));
  });
});
