import { lockstepVitestConfig } from '../../vitest.shared.js';

const config = lockstepVitestConfig();
// Vitest hands ssr.resolve.conditions to the worker as `node --conditions …`, and those apply to
// require() too: with `import` among them, pg's require('pg-pool') gets pg-pool's ESM build and
// fails ("Class extends value [object Module]"). Keep only what Node itself should honour.
config.ssr = { ...config.ssr, resolve: { ...config.ssr?.resolve, conditions: ['@lockstep/source', 'node'] } };

export default config;
