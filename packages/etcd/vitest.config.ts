import { lockstepVitestConfig } from '../../vitest.shared.js';

const config = lockstepVitestConfig();
// Vitest passes ssr.resolve.conditions to its workers as `node --conditions`. The shared list
// includes `import`, and with it Node 20's require() of a dual package (here `long`, which
// protobufjs loads with require) returns the ESM namespace: protobufjs then decodes int64 as
// doubles and etcd lease ids lose precision. Vite adds import/require itself, so keep only
// the conditions that select sources.
if (config.ssr?.resolve) config.ssr.resolve.conditions = ['@lockstep/source', 'node'];

export default config;
