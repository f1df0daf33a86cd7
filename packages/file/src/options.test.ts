/** Unknown option names are typos until proven otherwise: rejected before anything is touched. */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { connectFile } from './index.js';

describe('unknown file options', () => {
  it('are rejected in connect() options, URL query parameters and connectFile(), naming the closest', async () => {
    const dir = join(tmpdir(), `lockstep-options-${process.pid}-${Date.now()}`);
    await expect(connect(`file://${dir}`, { prefx: 'a' } as never)).rejects.toThrow(/did you mean "prefix"/);
    await expect(connect(`file://${dir}?allowNetworkFilesystem=true`)).rejects.toThrow(
      /did you mean "allowNetworkFileSystem"/,
    );
    expect(() => connectFile(dir, { prefx: 'a' } as never)).toThrow(InvalidArgumentError);
    // Nothing was created for a rejected option.
    expect(existsSync(dir)).toBe(false);
  });
});
