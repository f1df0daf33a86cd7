import { readdirSync, readFileSync } from 'node:fs';
import { lockstepTsupConfig } from '../tsup.shared.js';

// Client libraries the profiles use (ioredis, pg, etcd3, redlock …) are devDependencies here:
// never bundle them; the app running compare has them installed beside the adapters.
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { devDependencies?: Record<string, string> };
const external = Object.keys(pkg.devDependencies ?? {});

// Backend profiles are loaded by name at run time (`backends/<name>.js`), so each is an entry.
const profiles = Object.fromEntries(
  readdirSync('src/backends')
    .filter(
      (file) =>
        file.endsWith('.ts') &&
        !file.endsWith('.test.ts') &&
        !['profile.ts', 'load.ts', 'server.ts'].includes(file),
    )
    .map((file) => [`backends/${file.slice(0, -3)}`, `src/backends/${file}`]),
);

// Interop scenarios are imported per backend (`@lockstep/conformance/interop/<backend>`).
const interop = Object.fromEntries(
  readdirSync('src/interop')
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => [`interop/${file.slice(0, -3)}`, `src/interop/${file}`]),
);

export default lockstepTsupConfig({
  entry: {
    index: 'src/index.ts',
    vitest: 'src/vitest.ts',
    cli: 'src/cli.ts',
    // The child client runs as its own process (process-kill, process-pause, backend.close).
    'child/client': 'src/child/client.ts',
    ...profiles,
    ...interop,
  },
  // import.meta.url in the CJS build: the suite locates child/client.js and backends/*.js by it.
  shims: true,
  external,
});
