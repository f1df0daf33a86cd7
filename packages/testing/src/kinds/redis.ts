/**
 * Redis: `redis-server` with no persistence (no RDB, no AOF), loopback only, logging to stdout.
 * A "cluster" is N independent instances — what Redlock needs — named by `redlock://h:p1,h:p2,...`.
 * @module
 */
import { freePort } from '../ports.js';
import { probeRedis } from '../probes.js';
import {
  hostList,
  LOOPBACK,
  layoutNodes,
  makeDataDir,
  makeNodeDirs,
  nodeLabel,
  type Recipe,
} from './layout.js';

export const layoutRedis: Recipe = async ({ nodes: count, programs, readyTimeoutMs }) => {
  const nodes = await layoutNodes(count, async (index) => {
    const port = await freePort();
    const dirs = makeNodeDirs(nodeLabel('redis', index, count));
    makeDataDir(dirs);
    return {
      ...dirs,
      kind: 'redis' as const,
      source: 'binary' as const,
      host: LOOPBACK,
      port,
      url: `redis://${LOOPBACK}:${port}`,
      command: programs['redis-server']!,
      // biome-ignore format: one option per line reads like a config file
      args: [
        '--port', String(port),
        '--bind', LOOPBACK,
        '--save', '',
        '--appendonly', 'no',
        '--dir', dirs.dataDir,
        '--daemonize', 'no',
        '--logfile', '',
        '--protected-mode', 'yes',
      ],
      stopSignal: 'SIGTERM' as const,
      probe: () => probeRedis(LOOPBACK, port),
      readyTimeoutMs: readyTimeoutMs ?? 20_000,
    };
  });
  const url = count === 1 ? nodes[0]!.url : `redlock://${hostList(nodes.map((n) => n.port))}`;
  return { url, nodes };
};
