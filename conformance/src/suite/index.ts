/**
 * Every conformance test, once, in the order of `TEST_IDS`.
 * @module
 */
import { backendClose, backendKeepalive, backendUnavailable } from './backend.js';
import { counterAtomic, counterBounds, counterCas, counterInput } from './counter.js';
import { counterLinearizable } from './counter-linearizable.js';
import { ELECTION_TESTS } from './election.js';
import { lockExclusive, lockHandoff, lockTry } from './lock-contention.js';
import { lockFencing } from './lock-fencing.js';
import { lockAutoExtend, lockExpiry, lockExtend, lockRelease } from './lock-lease.js';
import { lockLostSignal } from './lock-loss.js';
import { lockNames } from './lock-names.js';
import { lockAbort, lockWaitTimeout } from './lock-waiting.js';
import { lockProcessKill, lockProcessPause } from './process.js';
import { RWLOCK_TESTS } from './rwlock.js';
import { SEMAPHORE_TESTS } from './semaphore.js';
import { type ConformanceTest, TEST_IDS } from './types.js';

/** The suite: one entry per test id, in the order of `TEST_IDS`. */
export const CONFORMANCE_TESTS: readonly ConformanceTest[] = [
  lockExclusive,
  lockTry,
  lockHandoff,
  lockWaitTimeout,
  lockAbort,
  lockRelease,
  lockExpiry,
  lockAutoExtend,
  lockExtend,
  lockLostSignal,
  lockFencing,
  lockNames,
  lockProcessKill,
  lockProcessPause,
  counterAtomic,
  counterLinearizable,
  counterCas,
  counterBounds,
  counterInput,
  backendUnavailable,
  backendClose,
  backendKeepalive,
  ...SEMAPHORE_TESTS,
  ...RWLOCK_TESTS,
  ...ELECTION_TESTS,
];

// The table and the ids must agree; a mismatch is a bug in this package, caught at import.
if (CONFORMANCE_TESTS.map((t) => t.id).join() !== TEST_IDS.join()) {
  throw new Error('conformance: CONFORMANCE_TESTS does not list every test id of TEST_IDS in order');
}
