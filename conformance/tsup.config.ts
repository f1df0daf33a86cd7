import { lockstepTsupConfig } from '../tsup.shared.js';

export default lockstepTsupConfig({
  entry: {
    index: 'src/index.ts',
    vitest: 'src/vitest.ts',
    'interop/index': 'src/interop/index.ts',
    'profile/index': 'src/profile/index.ts',
    // The child client runs as its own process (process-kill, process-pause, backend.close).
    'child/client': 'src/child/client.ts',
  },
  // import.meta.url in the CJS build: the suite locates child/client.js by it.
  shims: true,
});
