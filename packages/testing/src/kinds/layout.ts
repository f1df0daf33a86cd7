/**
 * What a kind's recipe produces: the specs of the nodes to start and the URL naming them all.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSpec } from '../managed-server.js';
import { type DirOwner, makeTempDir, removeTempDirNow } from '../temp-dir.js';
import type { ConsulEmulatorProcessOptions } from '../types.js';

/** Every server we start listens here only. */
export const LOOPBACK = '127.0.0.1';

export interface LayoutRequest {
  /** Number of nodes (1 for a single server). */
  readonly nodes: number;
  /** Programs found by `locateBinaries` (empty for the emulator). */
  readonly programs: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
  readonly consulEmulator?: ConsulEmulatorProcessOptions;
}

export interface ClusterLayout {
  /** The URL naming every node, in the format the adapters parse. */
  readonly url: string;
  readonly nodes: readonly NodeSpec[];
}

/** Lays out `request.nodes` nodes: ports, temp dirs, config files, data initialised. */
export type Recipe = (request: LayoutRequest) => Promise<ClusterLayout>;

/** A node's temp dir with `data/` inside and the log path beside it. */
export interface NodeDirs {
  readonly tempDir: string;
  readonly dataDir: string;
  readonly logPath: string;
}

export function makeNodeDirs(label: string, owner?: DirOwner): NodeDirs {
  const tempDir = makeTempDir(label, owner);
  const dataDir = join(tempDir, 'data');
  return { tempDir, dataDir, logPath: join(tempDir, 'server.log') };
}

export function makeDataDir(dirs: NodeDirs): void {
  mkdirSync(dirs.dataDir, { recursive: true });
}

/** Runs `build` for each node; if one throws, removes the temp dirs already made. */
export async function layoutNodes<T extends NodeDirs>(
  count: number,
  build: (index: number) => Promise<T>,
): Promise<T[]> {
  const built: T[] = [];
  try {
    for (let i = 0; i < count; i++) built.push(await build(i));
    return built;
  } catch (error) {
    for (const node of built) removeTempDirNow(node.tempDir);
    throw error;
  }
}

export function hostList(ports: readonly number[]): string {
  return ports.map((port) => `${LOOPBACK}:${port}`).join(',');
}

/** Label for a node's temp dir: `etcd` for a single server, `etcd-1` in a cluster. */
export function nodeLabel(kind: string, index: number, count: number): string {
  return count === 1 ? kind : `${kind}-${index + 1}`;
}
