/// <reference path="./node-zookeeper-client.d.ts" />
/**
 * The parts of node-zookeeper-client (1.1.x) lockstep uses, typed (the library ships no
 * declarations). {@link ZooKeeperClient} is the structural type of "your own client": any
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

/** The client's `Exception`: `getCode()` is one of ZooKeeper's error codes. */
export interface RawException {
  getCode(): number;
  getName(): string;
}

/**
 * What the client passes to a callback on failure: its `Exception`, or a plain `Error` (the
 * published typings allow both, so a caller's own client must be accepted with either).
 */
export type RawError = Error | RawException;

/** A one-shot watcher (ZooKeeper watches fire once) and the event it gets. */
export type RawWatcher = (event: { getType(): number; getPath(): string }) => void;

/** One result of a multi-op transaction. */
export interface RawOpResult {
  readonly type: number;
  readonly path?: string;
  readonly stat?: ZnodeStat;
}

/** A multi-op transaction under construction (`client.transaction()`). */
export interface RawTransaction {
  create(path: string, data: Buffer, mode: number): RawTransaction;
  check(path: string, version: number): RawTransaction;
  setData(path: string, data: Buffer, version: number): RawTransaction;
  commit(callback: (error: RawError | null, results: RawOpResult[]) => void): void;
  /** The queued operations (a check of version 0 must be corrected: the library sends `version || -1`). */
  readonly ops?: { version?: number }[];
}

/** A request's callback: the failure, or the value and the node's metadata. */
export type Reply<T> = (error: RawError | null, value: T, stat: ZnodeStat) => void;

/**
 * A node-zookeeper-client `Client`, as returned by `createClient(connectionString, options)`.
 * Pass yours to `zookeeperCoordinator()`; lockstep uses only these methods and the events
 * `connected`, `expired` and `authenticationFailed`.
 */
export interface ZooKeeperClient extends EventEmitter {
  connect(): void;
  close(): void;
  getState(): { readonly name: string; readonly code: number };
  getSessionId(): Buffer;
  getSessionTimeout(): number;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(
    path: string,
    data: Buffer,
    mode: number,
    callback: (error: RawError | null, path: string) => void,
  ): void;
  remove(path: string, version: number, callback: (error: RawError | null) => void): void;
  exists(path: string, callback: (error: RawError | null, stat: ZnodeStat | null) => void): void;
  exists(
    path: string,
    watcher: RawWatcher,
    callback: (error: RawError | null, stat: ZnodeStat | null) => void,
  ): void;
  getData(path: string, callback: Reply<Buffer>): void;
  getData(path: string, watcher: RawWatcher, callback: Reply<Buffer>): void;
  setData(
    path: string,
    data: Buffer,
    version: number,
    callback: (error: RawError | null, stat: ZnodeStat) => void,
  ): void;
  getChildren(path: string, callback: Reply<string[]>): void;
  getChildren(path: string, watcher: RawWatcher, callback: Reply<string[]>): void;
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

const zookeeper = zookeeperModule as {
  createClient(connectionString: string, options?: RawClientOptions): ZooKeeperClient;
};

/** `createClient` of node-zookeeper-client. */
export const createRawClient = (connectionString: string, options: RawClientOptions): ZooKeeperClient =>
  zookeeper.createClient(connectionString, options);

/** ZooKeeper's create modes (the client's `CreateMode`). */
export const CreateMode = { PERSISTENT: 0, EPHEMERAL_SEQUENTIAL: 3 } as const;

/** Client state codes (the client's `State.*.code`). */
export const StateCode = { SYNC_CONNECTED: 3, EXPIRED: -122 } as const;

/** The watch event of a deleted node (the client's `Event.NODE_DELETED`). */
export const NODE_DELETED = 2;

/** An 8-byte zxid buffer as a bigint. */
export function zxid(buffer: Buffer): bigint {
  return buffer.readBigUInt64BE(0);
}
