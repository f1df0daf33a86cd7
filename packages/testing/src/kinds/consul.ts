/**
 * Consul: a real `consul agent -dev` when a binary is on PATH, otherwise the Consul HTTP API
 * emulator of this package run as a child process (so kill, pause and restart work on it too).
 * The emulator keeps its state in memory: a restart or kill loses every session and key, like
 * `consul agent -dev`. Reports must label it `emulator`, never Consul.
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../ports.js';
import { probeConsul } from '../probes.js';
import { LOOPBACK, layoutNodes, makeDataDir, makeNodeDirs, type Recipe } from './layout.js';

/** How to run the emulator's CLI: built JavaScript directly, TypeScript sources through tsx. */
export type EmulatorCommand =
  | {
      readonly found: true;
      readonly command: string;
      readonly args: readonly string[];
      readonly entry: string;
    }
  | { readonly found: false; readonly reason: string };

/**
 * Finds `consul-emulator/main` next to this module: `src/consul-emulator/main.ts` when we run from
 * sources (then `node --import tsx --conditions=@lockstep/source`), `dist/consul-emulator/main.js`
 * from a build.
 */
export function locateEmulator(moduleUrl: string = import.meta.url): EmulatorCommand {
  const here = dirname(fileURLToPath(moduleUrl));
  const fromSources = join(here, '..', 'consul-emulator', 'main.ts');
  const fromBuild = join(here, 'consul-emulator', 'main.js');
  if (existsSync(fromBuild))
    return { found: true, command: process.execPath, args: [fromBuild], entry: fromBuild };
  if (existsSync(fromSources)) {
    let tsx: string;
    try {
      tsx = createRequire(moduleUrl).resolve('tsx');
    } catch {
      return {
        found: false,
        reason: `the emulator runs from TypeScript sources (${fromSources}) and tsx is not installed`,
      };
    }
    return {
      found: true,
      command: process.execPath,
      args: ['--import', pathToFileURL(tsx).href, '--conditions=@lockstep/source', fromSources],
      entry: fromSources,
    };
  }
  return {
    found: false,
    reason: `the Consul emulator's entry point is missing (looked for ${fromBuild} and ${fromSources})`,
  };
}

export const layoutConsulEmulator: Recipe = async ({ nodes: count, readyTimeoutMs, consulEmulator = {} }) => {
  if (count !== 1) throw new Error(`the Consul emulator is a single server (asked for ${count} nodes)`);
  const emulator = locateEmulator();
  if (!emulator.found) throw new Error(emulator.reason);
  const nodes = await layoutNodes(1, async () => {
    const port = await freePort();
    const dirs = makeNodeDirs('consul-emulator');
    makeDataDir(dirs); // stays empty: the emulator keeps its state in memory
    const options: string[] = [];
    if (consulEmulator.invalidationFactor !== undefined) {
      options.push('--invalidation-factor', String(consulEmulator.invalidationFactor));
    }
    if (consulEmulator.sessionTtlMin !== undefined)
      options.push('--session-ttl-min', consulEmulator.sessionTtlMin);
    return {
      ...dirs,
      // The emulator keeps state in memory; the data dir exists only so every handle has one.
      kind: 'consul' as const,
      source: 'emulator' as const,
      host: LOOPBACK,
      port,
      url: `consul://${LOOPBACK}:${port}`,
      command: emulator.command,
      args: [...emulator.args, '--port', String(port), '--host', LOOPBACK, ...options],
      stopSignal: 'SIGTERM' as const,
      probe: () => probeConsul(LOOPBACK, port),
      readyTimeoutMs: readyTimeoutMs ?? 30_000,
    };
  });
  return { url: nodes[0]!.url, nodes };
};

/** A real Consul agent in `-dev` mode (in-memory, single server) on free loopback ports; DNS and gRPC off. */
export const layoutConsulAgent: Recipe = async ({ nodes: count, programs, readyTimeoutMs }) => {
  if (count !== 1) throw new Error(`consul clusters are not provided (asked for ${count} nodes)`);
  const nodes = await layoutNodes(1, async () => {
    const [http, server, serfLan, serfWan] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const dirs = makeNodeDirs('consul');
    return {
      ...dirs,
      kind: 'consul' as const,
      source: 'binary' as const,
      host: LOOPBACK,
      port: http,
      url: `consul://${LOOPBACK}:${http}`,
      command: programs.consul!,
      // biome-ignore format: one flag per line reads like a config file
      args: [
        'agent', '-dev',
        '-node', `lockstep-${http}`,
        '-bind', LOOPBACK,
        '-client', LOOPBACK,
        '-http-port', String(http),
        '-server-port', String(server),
        '-serf-lan-port', String(serfLan),
        '-serf-wan-port', String(serfWan),
        '-dns-port', '-1',
        '-grpc-port', '-1',
      ],
      stopSignal: 'SIGTERM' as const,
      probe: () => probeConsul(LOOPBACK, http),
      readyTimeoutMs: readyTimeoutMs ?? 30_000,
    };
  });
  return { url: nodes[0]!.url, nodes };
};
