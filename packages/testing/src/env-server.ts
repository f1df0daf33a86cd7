/**
 * Servers given by URL in the environment (`LOCKSTEP_TEST_<KIND>_URL`, and for clusters
 * `LOCKSTEP_TEST_<KIND>_CLUSTER_URL`): someone else's server. We check that it accepts a
 * connection and hand out its URL; we never stop, kill or pause it.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import { ServerControlError, ServerStartError } from './errors.js';
import { probeTcp } from './probes.js';
import { type Tracked, track, untrack } from './registry.js';
import type { ServerHandle, ServerKind } from './types.js';

const DEFAULT_PORTS: Record<ServerKind, number> = {
  redis: 6379,
  postgres: 5432,
  etcd: 2379,
  zookeeper: 2181,
  consul: 8500,
};

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The environment variable naming a server (n = 1) or a cluster (n > 1) of `kind`. */
export function envVariableFor(kind: ServerKind, nodes = 1): string {
  return `LOCKSTEP_TEST_${kind.toUpperCase()}${nodes > 1 ? '_CLUSTER' : ''}_URL`;
}

/**
 * The hosts of a lockstep URL: `scheme://[user[:pass]@]h1:p1[,h2:p2...][/path][?query]`.
 * Ports default to the kind's usual one. Throws InvalidArgumentError for anything else.
 */
export function parseHosts(url: string, kind: ServerKind): HostPort[] {
  const match = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/?#]+)/i.exec(url);
  if (!match) throw new InvalidArgumentError('url', `not a server URL: ${JSON.stringify(url)}`);
  return match[1]!.split(',').map((entry) => {
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const plain = /^([^:]+)(?::(\d+))?$/.exec(entry);
    const parts = bracketed ?? plain;
    if (!parts) throw new InvalidArgumentError('url', `bad host ${JSON.stringify(entry)} in ${url}`);
    const port = parts[2] === undefined ? DEFAULT_PORTS[kind] : Number(parts[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new InvalidArgumentError('url', `bad port in ${JSON.stringify(entry)} of ${url}`);
    }
    return { host: parts[1]!, port };
  });
}

/** Replaces the host list of `url` with `hosts`, keeping scheme, credentials, path and query. */
export function withHosts(url: string, hosts: readonly HostPort[]): string {
  const hostText = hosts
    .map((h) => (h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`))
    .join(',');
  return url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?)([^/?#]+)/i,
    (_, prefix: string) => `${prefix}${hostText}`,
  );
}

class EnvServer implements ServerHandle, Tracked {
  readonly source = 'env' as const;

  constructor(
    readonly kind: ServerKind,
    readonly url: string,
    readonly host: string,
    readonly port: number,
    private readonly variable: string,
  ) {
    track(this);
  }

  #refuse(operation: string): never {
    throw new ServerControlError(
      this.kind,
      `${operation}() is not possible on a server given by ${this.variable}: it is not ours to control`,
    );
  }

  async stop(): Promise<void> {
    untrack(this);
  }
  kill(): Promise<void> {
    this.#refuse('kill');
  }
  pause(): Promise<void> {
    this.#refuse('pause');
  }
  resume(): Promise<void> {
    this.#refuse('resume');
  }
  restart(): Promise<void> {
    this.#refuse('restart');
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
  killNow(): void {}
}

/** One handle per host of `url`, after checking each accepts a TCP connection. */
export async function envServers(kind: ServerKind, url: string, variable: string): Promise<ServerHandle[]> {
  const hosts = parseHosts(url, kind);
  await Promise.all(
    hosts.map(({ host, port }) =>
      probeTcp(host, port, 5_000).catch((error: Error) => {
        throw new ServerStartError(
          kind,
          `${variable}=${url}: ${host}:${port} does not answer: ${error.message}`,
        );
      }),
    ),
  );
  const nodeUrl = (h: HostPort) => (hosts.length === 1 ? url : withHosts(singleNodeUrl(kind, url), [h]));
  return hosts.map((h) => new EnvServer(kind, nodeUrl(h), h.host, h.port, variable));
}

/** `redlock://…` names several Redis servers; each node on its own is `redis://`. */
function singleNodeUrl(kind: ServerKind, url: string): string {
  return kind === 'redis' ? url.replace(/^redlock:/i, 'redis:') : url;
}
