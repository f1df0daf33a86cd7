/**
 * Source selection with injected probes: env → binary → container → emulator, the container path
 * chosen only when a runtime answers, bounded when the runtime hangs; plus the real, quick
 * fail-over on a machine without a container runtime.
 */
import { describe, expect, it, vi } from 'vitest';
import type { BinaryLookup } from './binaries.js';
import { type ContainerRuntimeProbe, containerRuntimeHints, probeContainerRuntime } from './containers.js';
import { ServerUnavailableError } from './errors.js';
import { type SourceProbes, selectSource } from './sources.js';
import { provision, startServer } from './start.js';
import type { ServerKind } from './types.js';

const NO_BINARY: BinaryLookup = { found: false, reason: 'no redis-server on PATH (redis)' };
const A_BINARY: BinaryLookup = {
  found: true,
  programs: { 'redis-server': '/bin/redis-server' },
  detail: '/bin',
};
const RUNTIME_UP: ContainerRuntimeProbe = { available: true, detail: 'unix:///var/run/docker.sock' };
const RUNTIME_DOWN: ContainerRuntimeProbe = {
  available: false,
  reason: 'no container runtime: DOCKER_HOST is unset',
};

function probes(
  overrides: Partial<SourceProbes> & { runtime?: ContainerRuntimeProbe; binary?: BinaryLookup } = {},
) {
  const binaries = vi.fn((_kind: ServerKind) => overrides.binary ?? NO_BINARY);
  const containerRuntime = vi.fn(async () => overrides.runtime ?? RUNTIME_DOWN);
  const emulator = vi.fn(() => ({ found: true as const }));
  const value: SourceProbes = { env: {}, binaries, containerRuntime, emulator, ...overrides };
  return { value, binaries, containerRuntime, emulator };
}

describe('selectSource', () => {
  it('takes LOCKSTEP_TEST_<KIND>_URL first and probes nothing else', async () => {
    const p = probes({ env: { LOCKSTEP_TEST_REDIS_URL: 'redis://10.0.0.5:6380' }, binary: A_BINARY });
    const { choice } = await selectSource('redis', 1, undefined, p.value);
    expect(choice).toEqual({
      source: 'env',
      url: 'redis://10.0.0.5:6380',
      variable: 'LOCKSTEP_TEST_REDIS_URL',
    });
    expect(p.binaries).not.toHaveBeenCalled();
    expect(p.containerRuntime).not.toHaveBeenCalled();
  });

  it('uses LOCKSTEP_TEST_<KIND>_CLUSTER_URL for clusters, only when it names as many hosts as wanted', async () => {
    const env = { LOCKSTEP_TEST_ETCD_CLUSTER_URL: 'etcd://a:1,b:2,c:3' };
    expect((await selectSource('etcd', 3, undefined, probes({ env }).value)).choice).toMatchObject({
      source: 'env',
    });
    const twoHosts = await selectSource(
      'etcd',
      3,
      undefined,
      probes({ env: { LOCKSTEP_TEST_ETCD_CLUSTER_URL: 'etcd://a:1,b:2' } }).value,
    );
    expect(twoHosts.choice).toBeUndefined();
    expect(twoHosts.passedOver[0]).toMatch(/names 2 host\(s\), 3 wanted/);
  });

  it('takes a local binary next, without asking for a container runtime', async () => {
    const p = probes({ binary: A_BINARY, runtime: RUNTIME_UP });
    const { choice, passedOver } = await selectSource('redis', 1, undefined, p.value);
    expect(choice).toMatchObject({ source: 'binary', programs: A_BINARY.found ? A_BINARY.programs : {} });
    expect(passedOver).toEqual(['env: LOCKSTEP_TEST_REDIS_URL is not set']);
    expect(p.containerRuntime).not.toHaveBeenCalled();
  });

  it('chooses a container when, and only when, a runtime answers', async () => {
    const up = await selectSource('redis', 1, undefined, probes({ runtime: RUNTIME_UP }).value);
    expect(up.choice).toEqual({ source: 'container', detail: RUNTIME_UP.available ? RUNTIME_UP.detail : '' });
    const down = await selectSource('redis', 1, undefined, probes({ runtime: RUNTIME_DOWN }).value);
    expect(down.choice).toBeUndefined();
    expect(down.passedOver).toEqual([
      'env: LOCKSTEP_TEST_REDIS_URL is not set',
      'binary: no redis-server on PATH (redis)',
      'container: no container runtime: DOCKER_HOST is unset',
    ]);
  });

  it('gives up on a runtime that does not answer in time, or whose probe throws', async () => {
    const hanging = probes({
      containerRuntime: () => new Promise<ContainerRuntimeProbe>(() => {}),
      containerProbeTimeoutMs: 100,
    });
    const started = performance.now();
    const slow = await selectSource('redis', 1, undefined, hanging.value);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(slow.choice).toBeUndefined();
    expect(slow.passedOver.at(-1)).toBe('container: container runtime probe gave no answer within 100 ms');

    const throwing = probes({
      containerRuntime: async () => Promise.reject(new Error('EACCES /var/run/docker.sock')),
    });
    const failed = await selectSource('redis', 1, undefined, throwing.value);
    expect(failed.choice).toBeUndefined();
    expect(failed.passedOver.at(-1)).toMatch(/container runtime probe failed: EACCES/);
  });

  it('falls back to the emulator for consul only, after the container path', async () => {
    const consul = await selectSource('consul', 1, undefined, probes().value);
    expect(consul.choice).toEqual({ source: 'emulator' });
    expect(consul.passedOver.map((l) => l.split(':')[0])).toEqual(['env', 'binary', 'container']);
    const withRuntime = await selectSource('consul', 1, undefined, probes({ runtime: RUNTIME_UP }).value);
    expect(withRuntime.choice).toMatchObject({ source: 'container' });
    const redis = await selectSource('redis', 1, undefined, probes().value);
    expect(redis.choice).toBeUndefined();
  });

  it('honours the sources option, in its order', async () => {
    const p = probes({ binary: A_BINARY, runtime: RUNTIME_UP });
    expect((await selectSource('redis', 1, ['container', 'binary'], p.value)).choice).toMatchObject({
      source: 'container',
    });
    const emulatorFirst = await selectSource(
      'consul',
      1,
      ['emulator', 'binary'],
      probes({ binary: A_BINARY }).value,
    );
    expect(emulatorFirst.choice).toEqual({ source: 'emulator' });
    const onlyEnv = await selectSource('redis', 1, ['env'], p.value);
    expect(onlyEnv.choice).toBeUndefined();
    expect(p.binaries).not.toHaveBeenCalled();
  });

  it('never takes a container for an etcd or ZooKeeper cluster (they need a network), but does for Redlock', async () => {
    const p = probes({ runtime: RUNTIME_UP });
    const etcd = await selectSource('etcd', 3, undefined, p.value);
    expect(etcd.choice).toBeUndefined();
    expect(etcd.passedOver.at(-1)).toMatch(/etcd clusters from containers are not provided/);
    expect(p.containerRuntime).not.toHaveBeenCalled();
    expect((await selectSource('redis', 3, undefined, p.value)).choice).toMatchObject({
      source: 'container',
    });
  });
});

describe('when nothing can provide a server', () => {
  it('throws ServerUnavailableError naming the kind and every reason, loudly', async () => {
    const error = await provision('redis', 1, {}, probes().value).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerUnavailableError);
    const unavailable = error as ServerUnavailableError;
    expect(unavailable.kind).toBe('redis');
    expect(unavailable.code).toBe('SERVER_UNAVAILABLE');
    expect(unavailable.message).toMatch(/^no redis server available for tests:/);
    expect(unavailable.reason).toContain('binary: no redis-server on PATH');
    expect(unavailable.reason).toContain('container: no container runtime');
    expect(unavailable.reason).toMatch(/fix: set LOCKSTEP_TEST_REDIS_URL/);
  });
});

describe('the real container probe on this machine', () => {
  it('fails over quickly when no runtime is present', async ({ skip }) => {
    if (containerRuntimeHints().length > 0)
      skip(`a container runtime is configured here (${containerRuntimeHints()})`);
    const started = performance.now();
    const probe = await probeContainerRuntime();
    expect(probe.available).toBe(false);
    await expect(startServer('redis', { sources: ['container'] })).rejects.toBeInstanceOf(
      ServerUnavailableError,
    );
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
