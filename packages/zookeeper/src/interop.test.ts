/**
 * Interop on ZooKeeper — `interop.curator`: `lock(name, { native: PATH })` queues exactly
 * where Apache Curator's `InterProcessMutex(client, PATH)` does (children `_c_<uuid>-lock-<seq>`,
 * ordered by the sequence, each waiter watching its predecessor), so a Java service using the
 * real Curator (Debian's libcurator-recipes-java 5.4) and lockstep clients exclude each other
 * both ways, and the fencing tokens (czxid) increase across both.
 */

import { runInteropTest } from '@lockstep/conformance/vitest';
import { connect } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { describe, it } from 'vitest';
import './index.js';
import { ZOOKEEPER_INTEROP } from './testing/index.js';

// The scenarios (and the Java holder they drive) live in this package's testing tools
// (src/testing/interop.ts), so that `pnpm compare` reports the very same checks as
// interop.curator. Without Java or the Curator jars each is skipped with that reason.

const zk = useServer('zookeeper');

describe('interop.curator: lockstep and Curator InterProcessMutex on one path', () => {
  for (const scenario of ZOOKEEPER_INTEROP) {
    it(
      scenario.title,
      (context) =>
        runInteropTest(context, scenario, {
          name: 'zookeeper',
          source: zk.handle.source,
          url: zk.url,
          adapterModule: '@lockstep/zookeeper',
          connect: (override) => connect(override ?? zk.url),
        }),
      scenario.timeoutMs,
    );
  }
});
