import { lockstepTsupConfig } from '../../tsup.shared.js';

// The bin and the programmatic entry (`main(argv)`), ESM and CommonJS like every package.
export default lockstepTsupConfig({ entry: ['src/cli.ts', 'src/index.ts'] });
