/**
 * Loads the adapter a URL needs. The demo depends on every adapter, so importing it here
 * (rather than from core) works with strict package managers too.
 */
import { KNOWN_SCHEMES } from '@lockstep/core';

export async function loadAdapterFor(url: string): Promise<void> {
  const scheme = new URL(url).protocol.slice(0, -1);
  const pkg = KNOWN_SCHEMES[scheme];
  if (pkg && pkg !== '@lockstep/core') await import(pkg);
}
