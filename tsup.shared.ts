import type { Options } from 'tsup';

/**
 * The build every published package shares: `src/index.ts` as ESM and CJS with declarations,
 * for Node 20. No source maps: the output is unminified and keeps the modules' names, so stack
 * traces read as they are, and maps would double what is published. A package with more entries or options passes them as
 * `overrides`, which replace the shared values of the same name.
 */
export function lockstepTsupConfig(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: false,
    clean: true,
    target: 'node20',
    ...overrides,
  };
}
