/**
 * The in-memory KV table, its tombstones and its table index, plus a transaction overlay that lets
 * `/v1/txn` apply many operations atomically or not at all.
 */

/** One stored key, as Consul's KV endpoints describe it (kv.mdx › Read Key › Metadata Response). */
export interface KvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** Opaque unsigned 64-bit integer. */
  readonly flags: bigint;
  /** The session holding the lock, or `''` when no one holds it. */
  readonly session: string;
  readonly lockIndex: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
}

/** True when two entries would read back identically apart from their indexes. */
export function sameContents(a: KvEntry, b: KvEntry): boolean {
  return (
    a.key === b.key &&
    a.flags === b.flags &&
    a.session === b.session &&
    a.lockIndex === b.lockIndex &&
    Buffer.compare(a.value, b.value) === 0
  );
}

/** Consul lists keys in byte order of their UTF-8 encoding (its radix tree order), not UTF-16 order. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class KvStore {
  readonly #entries = new Map<string, KvEntry>();
  /**
   * Deleted keys and the index that deleted them. Consul keeps such tombstones so that a prefix's
   * index does not slide backwards when its newest key is removed; it reaps them later, the emulator
   * never does (see README: the index can only go backwards here if a client asks for a future index).
   */
  readonly #tombstones = new Map<string, number>();
  #tableIndex = 0;

  /** The last index at which any key was created, changed or deleted (0 before the first write). */
  get tableIndex(): number {
    return this.#tableIndex;
  }

  get(key: string): KvEntry | undefined {
    return this.#entries.get(key);
  }

  /** Every entry whose key starts with `prefix`, in Consul's order. */
  list(prefix: string): KvEntry[] {
    const found: KvEntry[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.key.startsWith(prefix)) found.push(entry);
    }
    return found.sort((a, b) => byUtf8(a.key, b.key));
  }

  /** The highest ModifyIndex or deletion index under `prefix`; 0 when nothing was ever there. */
  prefixIndex(prefix: string): number {
    let highest = 0;
    for (const entry of this.#entries.values()) {
      if (entry.key.startsWith(prefix) && entry.modifyIndex > highest) highest = entry.modifyIndex;
    }
    for (const [key, index] of this.#tombstones) {
      if (key.startsWith(prefix) && index > highest) highest = index;
    }
    return highest;
  }

  /** Keys whose lock is held by `session`. */
  keysHeldBy(session: string): string[] {
    const held: string[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.session === session) held.push(entry.key);
    }
    return held;
  }

  /** Starts an overlay whose writes carry `index`; nothing is visible to others until `commit`. */
  begin(index: number): KvTransaction {
    return new KvTransaction(this, index);
  }

  /** @internal Applies a committed overlay. `null` means the key was deleted. */
  applyWrites(writes: ReadonlyMap<string, KvEntry | null>, index: number): void {
    for (const [key, entry] of writes) {
      if (entry === null) {
        this.#entries.delete(key);
        this.#tombstones.set(key, index);
      } else {
        this.#entries.set(key, entry);
        this.#tombstones.delete(key);
      }
    }
    if (writes.size > 0) this.#tableIndex = index;
  }
}

/** Reads see the transaction's own writes first; `commit` publishes them all at once. */
export class KvTransaction {
  readonly #writes = new Map<string, KvEntry | null>();

  constructor(
    private readonly store: KvStore,
    /** The Raft-like index every write in this transaction carries. */
    readonly index: number,
  ) {}

  get(key: string): KvEntry | undefined {
    if (this.#writes.has(key)) return this.#writes.get(key) ?? undefined;
    return this.store.get(key);
  }

  list(prefix: string): KvEntry[] {
    const merged = new Map<string, KvEntry>();
    for (const entry of this.store.list(prefix)) merged.set(entry.key, entry);
    for (const [key, entry] of this.#writes) {
      if (!key.startsWith(prefix)) continue;
      if (entry === null) merged.delete(key);
      else merged.set(key, entry);
    }
    return [...merged.values()].sort((a, b) => byUtf8(a.key, b.key));
  }

  put(entry: KvEntry): void {
    this.#writes.set(entry.key, entry);
  }

  delete(key: string): void {
    this.#writes.set(key, null);
  }

  /** Publishes the writes; returns whether anything changed. */
  commit(): boolean {
    this.store.applyWrites(this.#writes, this.index);
    return this.#writes.size > 0;
  }
}
