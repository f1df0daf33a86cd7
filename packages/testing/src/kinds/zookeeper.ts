/**
 * ZooKeeper 3.5+: `QuorumPeerMain` on the JVM with a generated config — standalone for one node,
 * an ensemble (myid files, quorum and election ports) for several. Admin server off; `srvr` and
 * friends whitelisted for the readiness probe.
 *
 * Timing is tuned for tests: tickTime 500 ms, so the negotiable session timeout starts at 1 s
 * (minSessionTimeout) and session-expiry tests run fast; maxSessionTimeout 60 s so clients asking
 * for long sessions still get them. `forceSync=no`: durability is not what these servers are for.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../ports.js';
import { probeZooKeeper } from '../probes.js';
import {
  hostList,
  LOOPBACK,
  layoutNodes,
  makeDataDir,
  makeNodeDirs,
  nodeLabel,
  type Recipe,
} from './layout.js';

/** ZooKeeper's tick, in ms: the unit of its session and sync timeouts. */
export const ZOOKEEPER_TICK_MS = 500;

const JVM_FLAGS = [
  '-Xms32m',
  '-Xmx256m',
  '-XX:+UseSerialGC',
  // Start-up dominates a test server's life: C1 only, and no CPU spent on C2 compiler threads.
  '-XX:TieredStopAtLevel=1',
  '-Djava.net.preferIPv4Stack=true',
  '-Dzookeeper.admin.enableServer=false',
  '-Dorg.slf4j.simpleLogger.showDateTime=true',
  '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
];

export const layoutZooKeeper: Recipe = async ({ nodes: count, programs, readyTimeoutMs }) => {
  const ports: { client: number; quorum: number; election: number }[] = [];
  for (let i = 0; i < count; i++) {
    ports.push({
      client: await freePort(),
      quorum: count > 1 ? await freePort() : 0,
      election: count > 1 ? await freePort() : 0,
    });
  }
  const servers =
    count > 1 ? ports.map((p, i) => `server.${i + 1}=${LOOPBACK}:${p.quorum}:${p.election}`) : [];
  const nodes = await layoutNodes(count, async (index) => {
    const { client } = ports[index]!;
    const dirs = makeNodeDirs(nodeLabel('zookeeper', index, count));
    makeDataDir(dirs);
    if (count > 1) writeFileSync(join(dirs.dataDir, 'myid'), `${index + 1}\n`);
    const config = join(dirs.tempDir, 'zoo.cfg');
    writeFileSync(
      config,
      [
        `tickTime=${ZOOKEEPER_TICK_MS}`,
        'initLimit=20',
        'syncLimit=10',
        `dataDir=${dirs.dataDir}`,
        `clientPort=${client}`,
        `clientPortAddress=${LOOPBACK}`,
        'admin.enableServer=false',
        '4lw.commands.whitelist=srvr,ruok,stat,mntr,conf,cons',
        `minSessionTimeout=${2 * ZOOKEEPER_TICK_MS}`,
        'maxSessionTimeout=60000',
        // Tests open many clients from one address; the default cap is 60 per IP.
        'maxClientCnxns=0',
        'forceSync=no',
        'reconfigEnabled=false',
        ...servers,
        '',
      ].join('\n'),
    );
    return {
      ...dirs,
      kind: 'zookeeper' as const,
      source: 'binary' as const,
      host: LOOPBACK,
      port: client,
      url: `zookeeper://${LOOPBACK}:${client}`,
      command: programs.java!,
      args: [
        ...JVM_FLAGS,
        '-cp',
        programs.classpath!,
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        config,
      ],
      stopSignal: 'SIGTERM' as const,
      probe: async () => {
        await probeZooKeeper(LOOPBACK, client);
      },
      readyTimeoutMs: readyTimeoutMs ?? 60_000,
    };
  });
  return { url: `zookeeper://${hostList(ports.map((p) => p.client))}`, nodes };
};
