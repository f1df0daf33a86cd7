/// <reference path="./node-zookeeper-client.d.ts" />
/**
 * The parts of node-zookeeper-client (1.1.x) lockstep uses, typed. The library ships no
 * declarations; these describe its callback API as documented in its README.
 *
 * {@link ZooKeeperClient} is the public, structural type of "your own client": any
 * `createClient()` result satisfies it.
 * @module
 */
import type { EventEmitter } from 'node:events';
import zookeeperModule from 'node-zookeeper-client';

/** A znode's metadata. Zxids are 8-byte big-endian buffers. */
export interface ZnodeStat {
  readonly czxid: Buffer;
  readonly mzxid: Buffer;
  readonly pzxid: Buffer;
  readonly version: number;
  readonly cversion: number;
  readonly ephemeralOwner: Buffer;
  readonly dataLength: number;
  readonly numChildren: number;
}

/** An error from the client: `getCode()` is one of ZooKeeper's error codes. */
export interface RawException extends Error {
  getCode(): number;
  getName(): string;
}

/** A watch notification. */
export interface RawWatchEvent {
  getType(): number;
  getName(): string;
  getPath(): string;
}

/** A one-shot watcher (ZooKeeper watches fire once). */
export type RawWatcher = (event: RawWatchEvent) => void;

/** One result of a multi-op transaction. */
export interface RawOpResult {
  readonly type: number;
  readonly path?: string;
  readonly stat?: ZnodeStat;
  readonly err?: number;
}

/** A multi-op transaction under construction (`client.transaction()`). */
export interface RawTransaction {
  create(path: string, data: Buffer, mode: number): RawTransaction;
  check(path: string, version: number): RawTransaction;
  setData(path: string, data: Buffer, version: number): RawTransaction;
  remove(path: string, version: number): RawTransaction;
  commit(callback: (error: RawException | null, results: RawOpResult[]) => void): void;
  /** The queued operations (read to work around the library's `version || -1`, see `transaction.ts`). */
  readonly ops?: { version?: number }[];
}

/** A client state (`client.getState()`). */
export interface RawState {
  readonly name: string;
  readonly code: number;
}

/**
 * A node-zookeeper-client `Client`, as returned by `createClient(connectionString, options)`.
 * Pass yours to `zookeeperCoordinator()`; lockstep uses only these methods and events
 * (`connected`, `disconnected`, `expired`).
 */
export interface ZooKeeperClient extends EventEmitter {
  connect(): void;
  close(): void;
  getState(): RawState;
  getSessionId(): Buffer;
  getSessionTimeout(): number;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(
    path: string,
    data: Buffer,
    mode: number,
    callback: (error: RawException | null, path: string) => void,
  ): void;
  remove(path: string, version: number, callback: (error: RawException | null) => void): void;
  exists(path: string, callback: (error: RawException | null, stat: ZnodeStat | null) => void): void;
  getData(
    path: string,
    watcher: RawWatcher | undefined,
    callback: (error: RawException | null, data: Buffer, stat: ZnodeStat) => void,
  ): void;
  setData(
    path: string,
    data: Buffer,
    version: number,
    callback: (error: RawException | null, stat: ZnodeStat) => void,
  ): void;
  getChildren(
    path: string,
    watcher: RawWatcher | undefined,
    callback: (error: RawException | null, children: string[], stat: ZnodeStat) => void,
  ): void;
  transaction(): RawTransaction;
}

/** Options of node-zookeeper-client's `createClient`. */
export interface RawClientOptions {
  /** Requested session timeout; the server negotiates it into its [min, max] range. */
  sessionTimeout?: number;
  /** Longest random pause before cycling through the server list again. */
  spinDelay?: number;
  /** Automatic retries on connection loss. lockstep always uses 0: a retried create could duplicate a node. */
  retries?: number;
}

interface ZooKeeperModule {
  createClient(connectionString: string, options?: RawClientOptions): ZooKeeperClient;
  readonly State: Readonly<Record<'DISCONNECTED' | 'SYNC_CONNECTED' | 'EXPIRED' | 'AUTH_FAILED', RawState>>;
}

const zookeeper = zookeeperModule as ZooKeeperModule;

/** `createClient` of node-zookeeper-client. */
export const createRawClient = (connectionString: string, options: RawClientOptions): ZooKeeperClient =>
  zookeeper.createClient(connectionString, options);

/** ZooKeeper's create modes (the client's `CreateMode`). */
export const CreateMode = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
} as const;

/** Client state codes (the client's `State.*.code`). */
export const StateCode = { DISCONNECTED: 0, SYNC_CONNECTED: 3, AUTH_FAILED: 4, EXPIRED: -122 } as const;

/** Watch event types (the client's `Event.*`). */
export const EventType = {
  NODE_CREATED: 1,
  NODE_DELETED: 2,
  NODE_DATA_CHANGED: 3,
  NODE_CHILDREN_CHANGED: 4,
} as const;

/** An 8-byte zxid buffer as a bigint. */
export function zxid(buffer: Buffer): bigint {
  return buffer.readBigUInt64BE(0);
}

/** A session id buffer as lowercase hex (ZooKeeper's own notation, e.g. in `ephemeralOwner`). */
export function sessionHex(buffer: Buffer): string {
  return buffer.toString('hex');
}
