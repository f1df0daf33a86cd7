/**
 * CLI: `node --import tsx src/provision.ts [--kinds redis,etcd] [--no-install]` (or `node dist/provision.js`).
 *
 * Runs {@link ensureServerBinaries} and reports on stderr. Exits 1 when a kind listed in
 * `LOCKSTEP_REQUIRE` is still missing, so CI fails before the tests instead of skipping them.
 */
import { parseArgs } from 'node:util';
import { ensureServerBinaries } from './provisioning.js';
import { requiredBackends } from './require.js';
import { SERVER_KINDS, type ServerKind } from './types.js';

const { values } = parseArgs({
  options: { kinds: { type: 'string' }, 'no-install': { type: 'boolean', default: false } },
  strict: true,
});

const kinds = (values.kinds?.split(',').map((k) => k.trim()) ?? [...SERVER_KINDS]) as ServerKind[];
const unknown = kinds.filter((k) => !(SERVER_KINDS as readonly string[]).includes(k));
if (unknown.length > 0) {
  process.stderr.write(
    `lockstep provision: unknown kind(s) ${unknown.join(', ')}; known: ${SERVER_KINDS.join(', ')}\n`,
  );
  process.exit(2);
}

const report = await ensureServerBinaries({ kinds, install: !values['no-install'] });
const required = requiredBackends();
const failing = [...report.missing.keys()].filter((kind) => required.has(kind));
if (failing.length > 0) {
  process.stderr.write(
    `\nlockstep provision: FAILED — LOCKSTEP_REQUIRE lists ${failing.join(', ')}, which cannot be provided here.\n`,
  );
  process.exit(1);
}
