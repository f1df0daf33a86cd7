/**
 * interop.consul-lock (issue 10, Consul part): `lock(name, { native: PREFIX })` takes the lock where
 * `consul lock PREFIX …` (hashicorp/consul api/lock.go) takes it — `PREFIX/.lock`, acquired with a
 * session, flags 0x2ddccbc058a50c18 — so each excludes the other, both ways. The Go side is a
 * TypeScript transcription of api/lock.go's algorithm (no Go toolchain or Consul binary can be
 * installed here), and the server is the emulator: these are emulator results, not Consul results.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, type LockHandle } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { consulCoordinator } from './index.js';
import { LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE } from './native.js';
import { ApiLock } from './test-support/api-lock.js';
import { abortedWithin, delay, open, track } from './test-support/helpers.js';
import { countingFetch, RawConsul } from './test-support/raw.js';
import { MIN_TTL_MS, SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';

const consul = useConsul();
const raw = () => new RawConsul(consul().httpUrl);
const prefixOf = () => `jobs/nightly-${randomBytes(4).toString('hex')}`;
const apiLock = (prefix: string, lockDelay?: string) =>
  new ApiLock({
    httpUrl: consul().httpUrl,
    prefix,
    sessionTtl: `${MIN_TTL_MS / 1000}s`,
    retryMs: 200,
    lockDelay,
  });

describe.skipIf(SKIP_REASON !== undefined)(
  `interop.consul-lock: api/lock.go transcription (${SERVER_LABEL})`,
  () => {
    it(`interop.consul-lock: takes <prefix>/.lock with the lock flag, and both sides exclude each other both ways (${SERVER_LABEL})`, async () => {
      const prefix = prefixOf();
      const coord = await open(consul().url);
      const lock = coord.lock('nightly report', { native: `/${prefix}/`, ttlMs: MIN_TTL_MS });

      const ours = await lock.acquire();
      const entry = await raw().get(`${prefix}/.lock`);
      expect(entry?.Flags).toBe(LOCK_FLAG_VALUE);
      expect(entry?.Session).toBeDefined();
      expect(entry?.ModifyIndex).toBe(ours.fencingToken);

      // `consul lock` blocks while we hold it, and gets it after our release.
      const theirs = apiLock(prefix);
      let theirsHeld = false;
      const theirsLocking = theirs.lock().then(() => {
        theirsHeld = true;
      });
      await delay(300);
      expect(theirsHeld).toBe(false);
      expect(await ours.release()).toBe(true);
      await theirsLocking;
      expect(theirsHeld).toBe(true);

      // While `consul lock` holds it, we cannot; our waiter gets it after its Unlock + Destroy.
      expect(await lock.tryAcquire()).toBeNull();
      const waiting = lock.acquire({ waitMs: 10_000 });
      await delay(100);
      const unlocked = performance.now();
      await theirs.unlock();
      const next = await waiting;
      expect(performance.now() - unlocked).toBeLessThan(1_000);
      expect(next.fencingToken > ours.fencingToken).toBe(true); // the key was deleted and recreated in between
      expect(await next.release()).toBe(true);
      // Released with `unlock` like api/lock.go: the key stays, free, with the lock flag.
      const after = await raw().get(`${prefix}/.lock`);
      expect(after?.Session).toBeUndefined();
      expect(after?.Flags).toBe(LOCK_FLAG_VALUE);
    });

    it(`interop.consul-lock: lockstep clients and api/lock.go clients contending are never both inside (${SERVER_LABEL})`, async () => {
      const prefix = prefixOf();
      const coords = [await open(consul().url), await open(consul().url)];
      let inside = 0;
      let overlaps = 0;
      let grants = { lockstep: 0, api: 0 };
      const tokens: bigint[] = [];
      const critical = async () => {
        inside++;
        if (inside > 1) overlaps++;
        await delay(3);
        inside--;
      };
      const deadline = performance.now() + 4_000;
      const lockstepWorker = async (i: number) => {
        const lock = coords[i]!.lock('shared', { native: prefix, ttlMs: MIN_TTL_MS });
        while (performance.now() < deadline) {
          const held: LockHandle = await lock.acquire({ waitMs: 20_000 });
          tokens.push(held.fencingToken);
          await critical();
          grants = { ...grants, lockstep: grants.lockstep + 1 };
          await held.release();
        }
      };
      const apiWorker = async () => {
        while (performance.now() < deadline) {
          const l = apiLock(prefix);
          await l.lock();
          await critical();
          grants = { ...grants, api: grants.api + 1 };
          await l.unlock();
        }
      };
      await Promise.all([lockstepWorker(0), lockstepWorker(1), apiWorker(), apiWorker()]);
      expect(overlaps).toBe(0);
      expect(grants.lockstep).toBeGreaterThan(3);
      expect(grants.api).toBeGreaterThan(3);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
    }, 60_000);

    it(`interop.consul-lock: api/lock.go's monitor reports its session's loss, and its late Unlock does not free lockstep's lock (${SERVER_LABEL})`, async () => {
      const prefix = prefixOf();
      const theirs = apiLock(prefix, '1s');
      await theirs.lock();
      const session = (await raw().get(`${prefix}/.lock`))?.Session as string;
      await raw().destroySession(session); // invalidated (Behavior release: the key stays, free; lock-delay 1 s)
      const coord = await open(consul().url);
      const invalidated = performance.now();
      const ours = await coord
        .lock('takeover', { native: prefix, ttlMs: MIN_TTL_MS })
        .acquire({ waitMs: 20_000 });
      expect(performance.now() - invalidated).toBeGreaterThan(800); // waited out the lock-delay
      await abortedWithin(theirs.lost.signal, 3_000);
      await theirs.unlock(); // its release after loss must not free our lock
      expect(await ours.isHeld()).toBe(true);
      expect((await raw().get(`${prefix}/.lock`))?.Session).toBeDefined();
      await ours.release();
    });

    it(`interop.consul-lock: refuses a prefix used by a Consul semaphore (ErrLockConflict) without touching it (${SERVER_LABEL})`, async () => {
      const prefix = prefixOf();
      await raw().put(`${prefix}/.lock`, '{"Limit":2,"Holders":{}}', `?flags=${SEMAPHORE_FLAG_VALUE}`);
      const coord = await open(consul().url);
      const lock = coord.lock('sem', { native: prefix, ttlMs: MIN_TTL_MS });
      await expect(lock.tryAcquire()).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(lock.acquire({ waitMs: 1_000 })).rejects.toThrow(/semaphore/);
      const entry = await raw().get(`${prefix}/.lock`);
      expect(entry?.Flags).toBe(SEMAPHORE_FLAG_VALUE);
      expect(entry?.Session).toBeUndefined();
    });

    it(`interop.consul-lock: rejects invalid native prefixes before any request (${SERVER_LABEL})`, async () => {
      const counting = countingFetch();
      const coord = track(
        consulCoordinator({ url: consul().httpUrl, sessionTtlMinMs: MIN_TTL_MS, fetch: counting.fetch }),
      );
      for (const bad of ['', 'a//b', 'a/../b', 'a b', 42n, [1, 2] as const]) {
        expect(() => coord.lock('x', { native: bad })).toThrow(InvalidArgumentError);
      }
      expect(counting.calls).toHaveLength(0);
    });
  },
);
