import { defineConfig } from 'tsup';
import { lockstepTsupConfig } from '../../tsup.shared.js';

export default defineConfig([
  lockstepTsupConfig({
    // The library: ESM and CJS. `shims` gives CJS an import.meta.url, which finds the emulator's entry.
    // Not cleaned: both builds write to dist.
    entry: { index: 'src/index.ts', vitest: 'src/vitest.ts' },
    shims: true,
    clean: false,
  }),
  {
    // Executables, run by path: the Consul emulator (spawned as a child process) and the provisioning CLI.
    entry: { provision: 'src/provision.ts', 'consul-emulator/main': 'src/consul-emulator/main.ts' },
    format: ['esm'],
    sourcemap: false,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
