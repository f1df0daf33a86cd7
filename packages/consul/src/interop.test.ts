/**
 * interop.consul-lock: `lock(name, { native: PREFIX })` takes the lock where
 * `consul lock PREFIX …` (hashicorp/consul api/lock.go) takes it — `PREFIX/.lock`, acquired with a
 * session, flags 0x2ddccbc058a50c18 — so each excludes the other, both ways. The Go side is a
 * TypeScript transcription of api/lock.go's algorithm (no Go toolchain or Consul binary can be
 * installed here), and the server is the emulator: these are emulator results, not Consul results.
 * interop.consul-lock.semaphore: `semaphore(name, { permits, native: PREFIX })` and
 * `consul lock -n` (api/semaphore.go, transcribed likewise) count the same slots.
 */

import { runInteropTest } from '@lockstep/conformance/vitest';
import { connect, InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { consulCoordinator } from './index.js';
import { track } from './test-support/helpers.js';
import { countingFetch } from './test-support/raw.js';
import { MIN_TTL_MS, SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';
import { CONSUL_INTEROP } from './testing/index.js';

// The scenarios live in this package's testing tools (src/testing/interop.ts, with the api/lock.go
// transcription beside it), so that `pnpm compare` reports the very same checks.

const consul = useConsul();

describe.skipIf(SKIP_REASON !== undefined)(
  `interop.consul-lock: api/lock.go transcription (${SERVER_LABEL})`,
  () => {
    for (const scenario of CONSUL_INTEROP) {
      it(
        `${scenario.id}: ${scenario.title} (${SERVER_LABEL})`,
        (context) =>
          runInteropTest(context, scenario, {
            name: 'consul',
            source: consul().handle.source,
            url: consul().url,
            adapterModule: '@lockstep/consul',
            connect: (override) => connect(override ?? consul().url),
          }),
        60_000,
      );
    }

    it(`interop.consul-lock: rejects invalid native prefixes before any request (${SERVER_LABEL})`, async () => {
      const counting = countingFetch();
      const coord = track(
        consulCoordinator({ url: consul().httpUrl, sessionTtlMinMs: MIN_TTL_MS, fetch: counting.fetch }),
      );
      for (const bad of ['', 'a//b', 'a/../b', 'a b', 42n, [1, 2] as const]) {
        expect(() => coord.lock('x', { native: bad })).toThrow(InvalidArgumentError);
        expect(() => coord.semaphore('x', { permits: 2, native: bad })).toThrow(InvalidArgumentError);
      }
      expect(counting.calls).toHaveLength(0);
    });
  },
);
