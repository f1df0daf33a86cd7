/** Loads the adapter a URL needs (this example depends on all of them). */
import { KNOWN_SCHEMES } from '@lockstep/core';

export async function loadAdapterFor(url: string): Promise<void> {
  const pkg = KNOWN_SCHEMES[new URL(url).protocol.slice(0, -1)];
  if (pkg && pkg !== '@lockstep/core') await import(pkg);
}
