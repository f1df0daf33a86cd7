/**
 * `/v1/status/leader`, `/v1/status/peers` and `/v1/agent/self`: just enough for a client to check
 * liveness. Every answer says it comes from an emulator, never from a Consul agent.
 */
import { sendJson } from '../http-kit.js';
import type { RequestContext } from './context.js';
import { EMULATOR_NODE } from './session.js';

/** The Raft address the emulator reports as leader (Consul's default server RPC port). */
export const EMULATOR_LEADER = '127.0.0.1:8300';
export const EMULATOR_VERSION = '0.0.0-lockstep-emulator';
const NODE_ID = '00000000-0000-4000-8000-00000000c0de';

export function handleAgent(ctx: RequestContext): void {
  const { path, res, options } = ctx;
  if (path === '/v1/status/leader') {
    sendJson(res, 200, EMULATOR_LEADER);
    return;
  }
  if (path === '/v1/status/peers') {
    sendJson(res, 200, [EMULATOR_LEADER]);
    return;
  }
  sendJson(res, 200, {
    Config: {
      Datacenter: 'dc1',
      PrimaryDatacenter: 'dc1',
      NodeName: EMULATOR_NODE,
      NodeID: NODE_ID,
      Server: true,
      Revision: 'emulator',
      Version: EMULATOR_VERSION,
    },
    Member: {
      Name: EMULATOR_NODE,
      Addr: '127.0.0.1',
      Port: 8301,
      Tags: { dc: 'dc1', role: 'consul', build: EMULATOR_VERSION, id: NODE_ID },
      Status: 1,
    },
    Meta: { 'consul-network-segment': '' },
    LockstepEmulator: {
      Emulator: true,
      Description:
        'Consul HTTP API emulator from @lockstep/testing, built from the documented API; it is not a Consul agent.',
      Endpoints: ['/v1/kv', '/v1/session', '/v1/txn', '/v1/status', '/v1/agent/self'],
      InvalidationFactor: options.invalidationFactor,
      SessionTTLMinMs: options.sessionTtlMinMs,
      KVKeyValidation: options.kvKeyValidation,
    },
  });
}
