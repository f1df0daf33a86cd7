import { lockstepTsupConfig } from '../../tsup.shared.js';

export default lockstepTsupConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  // The testing tools import the package by its own name (as child processes and users do):
  // that must stay an import of the built package, not a second bundled copy of it.
  external: [/^@lockstep\//],
});
