/**
 * etcd (3.4+): one node, or a static N-node cluster on loopback client and peer ports. Each node
 * has its own data dir, so a killed node restarted with the same flags rejoins with its state.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { freePort } from '../ports.js';
import { probeEtcd } from '../probes.js';
import { hostList, LOOPBACK, layoutNodes, makeNodeDirs, nodeLabel, type Recipe } from './layout.js';

export const layoutEtcd: Recipe = async ({ nodes: count, programs, readyTimeoutMs }) => {
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < count; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const initialCluster = ports.map((p, i) => `node${i + 1}=http://${LOOPBACK}:${p.peer}`).join(',');
  // A unique token keeps nodes of two clusters from ever talking to each other.
  const token = `lockstep-${randomBytes(6).toString('hex')}`;
  const nodes = await layoutNodes(count, async (index) => {
    const { client, peer } = ports[index]!;
    const dirs = makeNodeDirs(nodeLabel('etcd', index, count));
    return {
      ...dirs,
      kind: 'etcd' as const,
      source: 'binary' as const,
      host: LOOPBACK,
      port: client,
      url: `etcd://${LOOPBACK}:${client}`,
      command: programs.etcd!,
      // biome-ignore format: one flag per line reads like a config file
      args: [
        '--name', `node${index + 1}`,
        '--data-dir', dirs.dataDir,
        '--listen-client-urls', `http://${LOOPBACK}:${client}`,
        '--advertise-client-urls', `http://${LOOPBACK}:${client}`,
        '--listen-peer-urls', `http://${LOOPBACK}:${peer}`,
        '--initial-advertise-peer-urls', `http://${LOOPBACK}:${peer}`,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', token,
        '--heartbeat-interval', '100',
        '--election-timeout', '1000',
        '--logger', 'zap',
        '--log-outputs', 'stderr',
      ],
      // etcd 3.4 reads ETCD_* variables as flags: a stray one in the caller's environment must not leak in.
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ETCD_'))),
      stopSignal: 'SIGTERM' as const,
      probe: () => probeEtcd(LOOPBACK, client),
      readyTimeoutMs: readyTimeoutMs ?? 30_000,
    };
  });
  return { url: `etcd://${hostList(ports.map((p) => p.client))}`, nodes };
};
