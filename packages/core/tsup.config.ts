import { lockstepTsupConfig } from '../../tsup.shared.js';

// Three entries: the public API, `@lockstep/core/driver` for adapters, `@lockstep/core/otel`.
export default lockstepTsupConfig({ entry: ['src/index.ts', 'src/kit.ts', 'src/otel.ts'] });
