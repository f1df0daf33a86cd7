import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library: ESM and CJS. `shims` gives CJS an import.meta.url, which finds the emulator's entry.
    entry: { index: 'src/index.ts', vitest: 'src/vitest.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    shims: true,
    target: 'node20',
  },
  {
    // Executables, run by path: the Consul emulator (spawned as a child process) and the provisioning CLI.
    entry: { provision: 'src/provision.ts', 'consul-emulator/main': 'src/consul-emulator/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
