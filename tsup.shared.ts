import type { Options } from 'tsup';

/**
 * The build every published package shares: `src/index.ts` as ESM and CJS with declarations
 * and source maps, for Node 20. A package with more entries or options passes them as
 * `overrides`, which replace the shared values of the same name.
 */
export function lockstepTsupConfig(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...overrides,
  };
}
