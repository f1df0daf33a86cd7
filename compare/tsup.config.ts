import { readFileSync } from 'node:fs';
import { lockstepTsupConfig } from '../tsup.shared.js';

// The adapters and the peer libraries their testing tools load are dependencies: never bundle them.
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies?: Record<string, string> };

export default lockstepTsupConfig({
  entry: {
    index: 'src/index.ts',
    cli: 'src/cli.ts',
    // Each backend runs in a worker process of its own.
    worker: 'src/worker.ts',
  },
  // import.meta.url in the CJS build: the runner locates worker.js by it.
  shims: true,
  external: Object.keys(pkg.dependencies ?? {}),
});
