/**
 * Finds the {@link BackendProfile} of a backend: `backends/<name>.ts` next to this file when
 * running from sources, `dist/backends/<name>.js` in the build.
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BACKEND_NAMES, type BackendName } from '../report/types.js';
import type { BackendProfile } from './profile.js';

/** The backends `pnpm compare` knows, in report order: every backend a report may name. */
export const COMPARE_BACKENDS = BACKEND_NAMES;

/** One of {@link COMPARE_BACKENDS}. */
export type CompareBackend = BackendName;

/** A profile, or why there is none. */
export type LoadedProfile =
  | { readonly ok: true; readonly profile: BackendProfile }
  | { readonly ok: false; readonly reason: string };

function profileUrl(name: string): URL {
  const here = import.meta.url;
  // Sources: this file is src/backends/load.ts. Build: it is bundled into a file at dist/.
  return here.endsWith('.ts') ? new URL(`./${name}.ts`, here) : new URL(`./backends/${name}.js`, here);
}

/**
 * Loads the profile of `name`. A missing file is "adapter profile not available yet"; a file
 * that fails to load (its adapter package is not installed, say) gives that error as the reason.
 */
export async function loadProfile(name: CompareBackend): Promise<LoadedProfile> {
  const url = profileUrl(name);
  if (!existsSync(fileURLToPath(url))) return { ok: false, reason: 'adapter profile not available yet' };
  try {
    const module = (await import(url.href)) as { default?: BackendProfile; profile?: BackendProfile };
    const profile = module.default ?? module.profile;
    if (profile === undefined || typeof profile.provision !== 'function') {
      return {
        ok: false,
        reason: `backends/${name} exports no BackendProfile (default export or \`profile\`)`,
      };
    }
    if (profile.name !== name) {
      return { ok: false, reason: `backends/${name} describes "${profile.name}", not "${name}"` };
    }
    return { ok: true, profile };
  } catch (error) {
    return {
      ok: false,
      reason: `adapter profile failed to load: ${(error as Error).message ?? String(error)}`,
    };
  }
}
