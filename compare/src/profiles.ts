/**
 * Finds the {@link BackendProfile} of a backend: memory's lives here (core has no testing
 * tools of its own), every other one in its adapter's `/testing` subpath, so everything about
 * one backend lives in its package.
 * @module
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendProfile } from '@lockstep/conformance/profile';
import { BACKEND_NAMES, type BackendName } from './report/types.js';

/** The backends `pnpm compare` knows, in report order: every backend a report may name. */
export const COMPARE_BACKENDS = BACKEND_NAMES;

/** One of {@link COMPARE_BACKENDS}. */
export type CompareBackend = BackendName;

/** A profile, or why there is none. */
export type LoadedProfile =
  | { readonly ok: true; readonly profile: BackendProfile }
  | { readonly ok: false; readonly reason: string };

/** Where each backend's profile comes from: a module and the name it exports the profile as. */
const PROFILES: Readonly<Record<CompareBackend, () => Promise<BackendProfile>>> = {
  memory: async () => (await import('./memory.js')).memoryProfile,
  file: async () => (await import('@lockstep/file/testing')).fileProfile,
  redis: async () => (await import('@lockstep/redis/testing')).redisProfile,
  redlock: async () => (await import('@lockstep/redis/testing')).redlockProfile,
  etcd: async () => (await import('@lockstep/etcd/testing')).etcdProfile,
  zookeeper: async () => (await import('@lockstep/zookeeper/testing')).zookeeperProfile,
  consul: async () => (await import('@lockstep/consul/testing')).consulProfile,
  postgres: async () => (await import('@lockstep/postgres/testing')).postgresProfile,
};

/** A profile from a module of one's own (its `profile` or default export), e.g. a test fixture. */
async function profileFromModule(specifier: string): Promise<BackendProfile | undefined> {
  const href = isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier;
  const module = (await import(href)) as { default?: BackendProfile; profile?: BackendProfile };
  return module.profile ?? module.default;
}

/**
 * Loads the profile of `name` — from `module` when given (its `profile` or default export),
 * else from the backend's adapter. A profile that fails to load (its adapter or
 * `@lockstep/conformance` not installed, say) gives that error as the reason.
 */
export async function loadProfile(name: CompareBackend, module?: string): Promise<LoadedProfile> {
  try {
    const profile = module === undefined ? await PROFILES[name]() : await profileFromModule(module);
    if (profile === undefined || typeof profile.provision !== 'function') {
      return { ok: false, reason: `${module ?? name} exports no BackendProfile` };
    }
    if (profile.name !== name) {
      return { ok: false, reason: `the profile of ${name} describes "${profile.name}"` };
    }
    return { ok: true, profile };
  } catch (error) {
    return {
      ok: false,
      reason: `the profile of ${name} failed to load: ${(error as Error).message ?? String(error)}`,
    };
  }
}
