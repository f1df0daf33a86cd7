/**
 * Provisioning for CI and fresh machines: make sure each server kind can be provided, installing
 * missing binaries from Debian when we are root on Debian, and saying plainly what is missing
 * everywhere else.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { locateBinaries, which } from './binaries.js';
import { probeContainerRuntime } from './containers.js';
import { envVariableFor } from './env-server.js';
import { locateEmulator } from './kinds/consul.js';
import { SERVER_KINDS, type ServerKind } from './types.js';

/** Debian packages that provide each kind's binaries. */
export const DEBIAN_PACKAGES: Readonly<Record<ServerKind, readonly string[]>> = {
  redis: ['redis-server'],
  postgres: ['postgresql'],
  etcd: ['etcd-server', 'etcd-client'],
  zookeeper: ['zookeeper'],
  consul: [],
};

/**
 * Debian packages the interop tests of a kind need beside its server, with a file that shows
 * they are there: Apache Curator's jars for `interop.curator` (lockstep and Curator's
 * `InterProcessMutex` on one ZooKeeper path). Installed along with the servers; without them
 * those tests are skipped with the reason.
 */
export const INTEROP_DEBIAN_PACKAGES: Readonly<
  Partial<Record<ServerKind, { readonly packages: readonly string[]; readonly marker: string }>>
> = {
  zookeeper: {
    packages: ['libcurator-recipes-java', 'libslf4j-java'],
    marker: '/usr/share/java/curator-recipes.jar',
  },
};

/** How each kind will be provided, after provisioning. */
export interface ProvisionReport {
  /** Kinds with a source: `env`, `binary`, `installed` (binary installed just now), `emulator`, `container`. */
  readonly ready: ReadonlyMap<ServerKind, 'env' | 'binary' | 'installed' | 'emulator' | 'container'>;
  /** Kinds nothing can provide, with the reason. */
  readonly missing: ReadonlyMap<ServerKind, string>;
}

export interface EnsureOptions {
  /** Kinds to check. Default: all. */
  kinds?: readonly ServerKind[];
  /** Where progress goes. Default: stderr. */
  log?: (line: string) => void;
  /** Install from Debian when possible. Default true. */
  install?: boolean;
  env?: NodeJS.ProcessEnv;
}

function canInstallFromDebian(): string | undefined {
  if (process.platform !== 'linux' || !existsSync('/etc/debian_version')) return 'not a Debian system';
  if (process.getuid?.() !== 0) return 'not running as root';
  if (which('apt-get') === undefined) return 'apt-get is not on PATH';
  return undefined;
}

const POLICY_RC = '/usr/sbin/policy-rc.d';

/**
 * apt-get, with service start-up disabled for its duration: installing redis-server or postgresql
 * must not leave system daemons running on the default ports (the standard policy-rc.d switch;
 * an existing policy file is left alone).
 */
function aptInstall(packages: readonly string[], log: (line: string) => void): boolean {
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) writeFileSync(POLICY_RC, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const stdio = ['ignore', process.stderr, process.stderr] as const;
    log('lockstep provision: apt-get update');
    if (spawnSync('apt-get', ['update'], { stdio: [...stdio], env }).status !== 0) return false;
    log(`lockstep provision: apt-get install -y ${packages.join(' ')}`);
    return spawnSync('apt-get', ['install', '-y', ...packages], { stdio: [...stdio], env }).status === 0;
  } finally {
    if (ownPolicy) rmSync(POLICY_RC, { force: true });
  }
}

/**
 * Makes sure every kind in `kinds` can be provided: by an env URL, a local binary, the Consul
 * emulator — installing missing binaries from Debian (`apt-get install -y redis-server etcd-server
 * etcd-client zookeeper`, and `postgresql` when there is no initdb) when running as root on Debian —
 * or a container runtime. Says what it does on `log`. Never throws for a missing kind: the report's
 * `missing` says why, and the caller decides (see `LOCKSTEP_REQUIRE`).
 */
export async function ensureServerBinaries(options: EnsureOptions = {}): Promise<ProvisionReport> {
  const { kinds = SERVER_KINDS, install = true, env = process.env } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ready = new Map<ServerKind, 'env' | 'binary' | 'installed' | 'emulator' | 'container'>();
  const missing = new Map<ServerKind, string>();

  for (const kind of kinds) {
    if (env[envVariableFor(kind)]) {
      ready.set(kind, 'env');
      continue;
    }
    const lookup = locateBinaries(kind, env);
    if (lookup.found) {
      ready.set(kind, 'binary');
      continue;
    }
    if (kind === 'consul') {
      const emulator = locateEmulator();
      if (emulator.found) ready.set(kind, 'emulator');
      else missing.set(kind, `${lookup.reason}; ${emulator.reason}`);
      continue;
    }
    missing.set(kind, lookup.reason);
  }

  const installable = [...missing.keys()].filter((kind) => DEBIAN_PACKAGES[kind].length > 0);
  const interopExtras = kinds.flatMap((kind) => {
    const extra = INTEROP_DEBIAN_PACKAGES[kind];
    return extra && ready.get(kind) !== 'env' && !existsSync(extra.marker) ? [extra.packages] : [];
  });
  if ((installable.length > 0 || interopExtras.length > 0) && install) {
    const refusal = canInstallFromDebian();
    if (refusal === undefined) {
      const packages = [...installable.flatMap((kind) => DEBIAN_PACKAGES[kind]), ...interopExtras.flat()];
      if (installable.includes('zookeeper') && which('java') === undefined)
        packages.push('default-jre-headless');
      log(
        installable.length > 0
          ? `lockstep provision: installing missing servers from Debian (${installable.join(', ')})`
          : `lockstep provision: installing what the interop tests need from Debian (${interopExtras.flat().join(', ')})`,
      );
      if (!aptInstall(packages, log)) log('lockstep provision: apt-get failed; see its output above');
      for (const kind of installable) {
        const lookup = locateBinaries(kind, env);
        if (lookup.found) {
          missing.delete(kind);
          ready.set(kind, 'installed');
        } else {
          missing.set(
            kind,
            `${lookup.reason} (even after apt-get install ${DEBIAN_PACKAGES[kind].join(' ')})`,
          );
        }
      }
    } else {
      log(
        `lockstep provision: cannot install ${installable.length > 0 ? 'missing servers' : "the interop tests' packages"} (${refusal})`,
      );
    }
  }

  if (missing.size > 0) {
    const runtime = await probeContainerRuntime(env);
    for (const kind of [...missing.keys()]) {
      if (runtime.available) {
        missing.delete(kind);
        ready.set(kind, 'container');
      } else {
        missing.set(kind, `${missing.get(kind)}; ${runtime.reason}`);
      }
    }
  }

  for (const [kind, source] of ready) log(`lockstep provision: ${kind.padEnd(9)} ready (${source})`);
  for (const [kind, reason] of missing) {
    const fix =
      DEBIAN_PACKAGES[kind].length > 0 ? `apt-get install -y ${DEBIAN_PACKAGES[kind].join(' ')}` : '';
    log(
      `lockstep provision: ${kind.padEnd(9)} MISSING: ${reason}. Fix: ${fix ? `${fix}, or ` : ''}set ${envVariableFor(kind)}`,
    );
  }
  return { ready, missing };
}
