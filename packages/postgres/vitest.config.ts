import { lockstepVitestConfig } from '../../vitest.shared.js';

const config = lockstepVitestConfig();
// Vitest passes ssr.resolve.conditions to its workers as `node --conditions`. The shared list
// includes `import`, and with it Node 20's require() of a dual package (pg requires pg-pool,
// which ships ESM too) returns the ESM namespace, so `class Pool extends require('pg-pool')`
// fails. Vite adds import/require itself: keep only the conditions that select sources.
if (config.ssr?.resolve) config.ssr.resolve.conditions = ['@lockstep/source', 'node'];

export default config;
