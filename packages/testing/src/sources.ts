/**
 * Which source provides a server: the environment, a local binary, a container, the Consul
 * emulator — tried in that order (or the order the caller asks for), the first usable one wins.
 *
 * The probes are injected so the choice itself is unit-tested: in particular that a container is
 * chosen only when a runtime answers, that a slow runtime cannot hold a test up for more than
 * {@link CONTAINER_PROBE_TIMEOUT_MS}, and that nothing later in the order is probed once a source
 * has been found. Every source passed over leaves a line saying why, for the skip message.
 * @module
 */
import { type BinaryLookup, locateBinaries } from './binaries.js';
import {
  CONTAINER_PROBE_TIMEOUT_MS,
  type ContainerRuntimeProbe,
  probeContainerRuntime,
} from './containers.js';
import { envVariableFor, parseHosts } from './env-server.js';
import { locateEmulator } from './kinds/consul.js';
import { SERVER_SOURCES, type ServerKind, type ServerSource } from './types.js';

/** The outside world as source selection sees it. */
export interface SourceProbes {
  readonly env: NodeJS.ProcessEnv;
  binaries(kind: ServerKind): BinaryLookup;
  emulator(): { readonly found: true } | { readonly found: false; readonly reason: string };
  containerRuntime(): Promise<ContainerRuntimeProbe>;
  /** Upper bound on `containerRuntime()`. Default {@link CONTAINER_PROBE_TIMEOUT_MS}. */
  readonly containerProbeTimeoutMs?: number;
}

/** The source {@link selectSource} picked, with what starting from it needs (the URL, or the programs found). */
export type SourceChoice =
  | { readonly source: 'env'; readonly url: string; readonly variable: string }
  | {
      readonly source: 'binary';
      readonly programs: Readonly<Record<string, string>>;
      readonly detail: string;
    }
  | { readonly source: 'container'; readonly detail: string }
  | { readonly source: 'emulator' };

/** What {@link selectSource} decided, and why it passed over the sources before it. */
export interface SourceSelection {
  /** The first usable source, or undefined when none is. */
  readonly choice: SourceChoice | undefined;
  /** One line per source passed over: `binary: no redis-server on PATH (redis)`. */
  readonly passedOver: readonly string[];
}

/** The real probes: `process.env` (or `env`), PATH and well-known directories, testcontainers. */
export function defaultSourceProbes(env: NodeJS.ProcessEnv = process.env): SourceProbes {
  return {
    env,
    binaries: (kind) => locateBinaries(kind, env),
    emulator: () => {
      const located = locateEmulator();
      return located.found ? { found: true } : { found: false, reason: located.reason };
    },
    containerRuntime: () => probeContainerRuntime(env),
  };
}

async function boundedRuntimeProbe(probes: SourceProbes): Promise<ContainerRuntimeProbe> {
  const limit = probes.containerProbeTimeoutMs ?? CONTAINER_PROBE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ContainerRuntimeProbe>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({ available: false, reason: `container runtime probe gave no answer within ${limit} ms` }),
      limit,
    );
    timer.unref();
  });
  try {
    return await Promise.race([
      probes.containerRuntime().catch(
        (error: Error): ContainerRuntimeProbe => ({
          available: false,
          reason: `container runtime probe failed: ${error.message}`,
        }),
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Picks the source for `nodes` servers of `kind`, trying `allowed` in order. Never throws for an unusable source. */
export async function selectSource(
  kind: ServerKind,
  nodes: number,
  allowed: readonly ServerSource[] = SERVER_SOURCES,
  probes: SourceProbes = defaultSourceProbes(),
): Promise<SourceSelection> {
  const passedOver: string[] = [];
  for (const source of allowed) {
    switch (source) {
      case 'env': {
        const variable = envVariableFor(kind, nodes);
        const url = probes.env[variable]?.trim();
        if (!url) {
          passedOver.push(`env: ${variable} is not set`);
          break;
        }
        const hosts = parseHosts(url, kind).length;
        if (hosts !== nodes) {
          passedOver.push(`env: ${variable} names ${hosts} host(s), ${nodes} wanted`);
          break;
        }
        return { choice: { source, url, variable }, passedOver };
      }
      case 'binary': {
        if (kind === 'consul' && nodes > 1) {
          passedOver.push('binary: consul clusters are not provided');
          break;
        }
        const lookup = probes.binaries(kind);
        if (lookup.found)
          return { choice: { source, programs: lookup.programs, detail: lookup.detail }, passedOver };
        passedOver.push(`binary: ${lookup.reason}`);
        break;
      }
      case 'container': {
        if (nodes > 1 && kind !== 'redis') {
          passedOver.push(
            `container: ${kind} clusters from containers are not provided (they need a container network)`,
          );
          break;
        }
        const runtime = await boundedRuntimeProbe(probes);
        if (runtime.available) return { choice: { source, detail: runtime.detail }, passedOver };
        passedOver.push(`container: ${runtime.reason}`);
        break;
      }
      case 'emulator': {
        if (kind !== 'consul') break;
        if (nodes > 1) {
          passedOver.push('emulator: the Consul emulator is a single server');
          break;
        }
        const emulator = probes.emulator();
        if (emulator.found) return { choice: { source }, passedOver };
        passedOver.push(`emulator: ${emulator.reason}`);
        break;
      }
    }
  }
  return { choice: undefined, passedOver };
}
