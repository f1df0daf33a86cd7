/** Unknown option names are typos until proven otherwise: rejected before any I/O. */
import { connect, InvalidArgumentError } from '@lockstep/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresCoordinator } from './index.js';

// Nothing listens on port 1: a connect attempt would end in BackendUnavailableError instead.
const DEAD = 'postgres://u:p@127.0.0.1:1/db';

describe('unknown postgres options', () => {
  it('are rejected in connect() options and URL query parameters, naming the closest option', async () => {
    await expect(connect(DEAD, { prefx: 'a' } as never)).rejects.toThrow(/did you mean "prefix"/);
    await expect(connect(`${DEAD}?connectTimeoutMS=100`)).rejects.toThrow(/did you mean "connectTimeoutMs"/);
  });

  it("leave pg's own URL parameters to pg, and only there", async () => {
    const fromUrl = await connect(`${DEAD}?sslmode=disable&application_name=x`, {
      connectTimeoutMs: 200,
    }).catch((e: unknown) => e);
    expect(fromUrl).not.toBeInstanceOf(InvalidArgumentError);
    // As an explicit option pg would never see it: rejected, not ignored.
    await expect(connect(DEAD, { sslmode: 'disable' } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('are rejected by postgresCoordinator(pool, options)', async () => {
    const pool = new pg.Pool({ connectionString: DEAD });
    try {
      expect(() => postgresCoordinator(pool, { prefx: 'a' } as never)).toThrow(/did you mean "prefix"/);
      // The pool size is your pool's own setting.
      expect(() => postgresCoordinator(pool, { poolSize: 3 } as never)).toThrow(InvalidArgumentError);
    } finally {
      await pool.end();
    }
  });
});
