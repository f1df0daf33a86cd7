/**
 * Connecting from the CLI. `connect()` finds an adapter from core's location and from the
 * working directory; a CLI installed globally next to its adapter (`npm i -g lockstep
 * @lockstep/redis`) has it beside itself instead, so the CLI imports it from here first.
 * @module
 */
import { type Coordinator, connect, KNOWN_SCHEMES } from '@lockstep/core';

/** Connects to `url`, having loaded its adapter from beside the CLI when it is there. */
export async function open(url: string): Promise<Coordinator> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const adapter = scheme === undefined ? undefined : KNOWN_SCHEMES[scheme];
  if (adapter !== undefined && adapter !== '@lockstep/core') {
    // Not installed here: connect() then looks elsewhere and, failing that, says what to install.
    await import(adapter).catch(() => {});
  }
  return connect(url);
}
