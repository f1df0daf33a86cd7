import { basename, join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * Workspace packages resolve to their TypeScript sources through the `@lockstep/source`
 * export condition, so tests never depend on a stale build. When the root test command sets
 * LOCKSTEP_VITEST_JSON_DIR, each package also writes a JSON summary there for the final tally.
 */
export function lockstepVitestConfig(overrides: { testTimeout?: number } = {}) {
  const conditions = ['@lockstep/source', 'node', 'import', 'module', 'default'];
  // Vitest hands ssr.resolve.conditions to its workers as `node --conditions`, which also
  // steer require(): with `import` among them, require() of a dual package returns its ESM
  // namespace (pg's `class Pool extends require('pg-pool')` breaks; protobufjs reads int64 as
  // doubles through `long`). Vite adds import/require itself: pass only what selects sources.
  const nodeConditions = ['@lockstep/source', 'node'];
  const jsonDir = process.env.LOCKSTEP_VITEST_JSON_DIR;
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions: nodeConditions, externalConditions: ['@lockstep/source'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
      fileParallelism: false,
      reporters: jsonDir ? ['default', 'json'] : ['default'],
      outputFile: jsonDir ? { json: join(jsonDir, `${basename(process.cwd())}.json`) } : undefined,
    },
  });
}
