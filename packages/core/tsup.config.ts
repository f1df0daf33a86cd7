import { lockstepTsupConfig } from '../../tsup.shared.js';

// Two entries: the public API, and `@lockstep/core/driver` for adapters.
export default lockstepTsupConfig({ entry: ['src/index.ts', 'src/kit.ts'] });
