import { defineConfig } from 'vitest/config';

/**
 * Workspace packages resolve to their TypeScript sources through the `@lockstep/source`
 * export condition, so tests never depend on a stale build.
 */
export function lockstepVitestConfig(overrides: { testTimeout?: number } = {}) {
  const conditions = ['@lockstep/source', 'node', 'import', 'module', 'default'];
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@lockstep/source'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
      fileParallelism: false,
    },
  });
}
