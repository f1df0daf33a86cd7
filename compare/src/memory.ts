/**
 * memory:// for `pnpm compare`: embedded, nothing to provision.
 *
 * Its floor is a plain in-process `Map`: "acquire" is a has/set, "release" a delete, "+1" a
 * get/set — no lockstep machinery at all (no validation, no handle, no lease timer, no
 * coalescer, no promise queue). The ratio lock.cycle / floor.lock.cycle is therefore the
 * whole cost of lockstep's shared machinery around a backend that costs nothing; it says
 * nothing about any network backend.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { withQueryParam } from '@lockstep/conformance';
import type { BackendProfile, BenchSubject } from '@lockstep/conformance/profile';
import { connect } from '@lockstep/core';

/** Lease for the suite's lease tests: short, since nothing but this process's timers is involved. */
const MEMORY_TTL_MS = 300;

/** A subject whose operation is synchronous Map work wrapped in one promise. */
function mapSubject(op: (map: Map<string, number>) => void): BenchSubject {
  const map = new Map<string, number>();
  return {
    op: async () => op(map),
    teardown: async () => map.clear(),
  };
}

/** The memory:// profile. Nothing to clean up: the state lives in the process that ran. */
export const memoryProfile: BackendProfile = {
  name: 'memory',
  adapterModule: '@lockstep/core',
  async provision({ url, prefix, log }) {
    const target = withQueryParam(
      url ?? `memory://compare-${randomBytes(4).toString('hex')}`,
      'prefix',
      prefix,
    );
    log(`memory: embedded space ${target}`);
    return {
      target: {
        name: 'memory',
        source: 'embedded',
        url: target,
        adapterModule: '@lockstep/core',
        ttlMs: MEMORY_TTL_MS,
        connect: (override) => connect(override ?? target),
      },
      stop: async () => {},
    };
  },
  floor: {
    lockCycle: async () =>
      mapSubject((map) => {
        if (map.has('lock')) throw new Error('floor lock unexpectedly held');
        map.set('lock', 1);
        map.delete('lock');
      }),
    counterIncrement: async () => mapSubject((map) => map.set('counter', (map.get('counter') ?? 0) + 1)),
  },
  naive: {
    // In one process a Map update is already atomic: the naive path is the floor's +1 per call.
    counterThroughput64: async () => mapSubject((map) => map.set('counter', (map.get('counter') ?? 0) + 1)),
  },
  peers: {},
};
