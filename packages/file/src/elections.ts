/**
 * Elections among processes of one host. Leadership is the one-permit claim on the election's
 * own file, the lock algorithm unchanged: candidates wait as tickets in arrival order, the
 * leader is the holder, and its term is the grant's fencing token, so terms strictly increase.
 * The leader's value lives in its holder entry: written with the grant, rewritten by `proclaim`
 * inside a section only while that entry still holds (the guard a deposed leader cannot pass),
 * and read by `leader()` and observers from the record.
 * @module
 */
import type {
  AcquireRequest,
  ElectionDriver,
  ElectionRef,
  LeadershipGrant,
  LeaseGrant,
  LockRef,
} from '@lockstep/core/driver';
import { monotonicNowMs } from './clock.js';
import { withExistingFileLock } from './flock.js';
import { leadershipGrant } from './grant.js';
import type { Layout } from './layout.js';
import { FileLeases } from './locks.js';
import { leaderOf, observeLeader } from './observer.js';
import type { LeaseRecord } from './queue.js';
import { readRecord } from './record.js';

/** The election driver over one layout. */
export function fileElections(layout: Layout): ElectionDriver {
  const fileOf = (ref: LockRef) => layout.electionFile(ref);
  const candidacies = new FileLeases<ElectionRef>(fileOf, (ref) => ({ permits: 1, value: ref.value }));
  const leading = (grant: LeaseGrant, request: AcquireRequest<ElectionRef>): LeadershipGrant =>
    leadershipGrant(grant, fileOf(request.lock), request.ownerId);
  return {
    tryCampaign: async (request) => {
      const grant = await candidacies.tryAcquire(request);
      return grant && leading(grant, request);
    },
    campaign: async (request, signal) => leading(await candidacies.acquire(request, signal), request),
    leader: async (ref) => {
      const record = await withExistingFileLock(fileOf(ref), (fd) => readRecord<LeaseRecord>(fd));
      return leaderOf(record, monotonicNowMs());
    },
    observe: (ref, onChange, signal) => observeLeader(fileOf(ref), onChange, signal),
  };
}
