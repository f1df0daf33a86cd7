/**
 * The semantics of every KV operation, written once and shared by `/v1/kv` (one operation per
 * request) and `/v1/txn` (many operations in one atomic transaction). Sources: kv.mdx (Create/Update
 * Key, Delete Key), txn.mdx (Tables of Operations › KV Operations) and the Sessions overview
 * (K/V Integration).
 */
import { type KvEntry, type KvTransaction, sameContents } from './kv-store.js';

/** The verbs txn.mdx lists for KV operations. */
export type KvVerb =
  | 'set'
  | 'cas'
  | 'lock'
  | 'unlock'
  | 'get'
  | 'get-or-empty'
  | 'get-tree'
  | 'check-index'
  | 'check-session'
  | 'check-not-exists'
  | 'delete'
  | 'delete-tree'
  | 'delete-cas';

/** Verbs that change state; a transaction made only of other verbs is read-only. */
export const WRITE_VERBS: ReadonlySet<string> = new Set([
  'set',
  'cas',
  'lock',
  'unlock',
  'delete',
  'delete-tree',
  'delete-cas',
]);

export interface KvOperation {
  /** Any string: an unknown verb fails when it runs, as in Consul. */
  readonly verb: string;
  readonly key: string;
  readonly value: Uint8Array;
  readonly flags: bigint;
  /** The `cas` / `check-index` / `delete-cas` index (`Index` in txn, `?cas=` on /v1/kv). */
  readonly index: number;
  readonly session: string;
}

/** One entry a successful operation reports; `withValue` is true only for the read verbs. */
export interface KvResult {
  readonly entry: KvEntry;
  readonly withValue: boolean;
}

/**
 * `ok`: applied. `rejected`: the operation's condition did not hold (the KV endpoint answers `false`).
 * `invalid`: the request itself is wrong, e.g. an unknown session (the KV endpoint answers 500).
 * In a transaction both failures become an entry in `Errors`.
 */
export type KvOutcome =
  | { readonly status: 'ok'; readonly results: readonly KvResult[] }
  | { readonly status: 'rejected'; readonly message: string }
  | { readonly status: 'invalid'; readonly message: string };

export interface SessionLookup {
  exists(id: string): boolean;
}

const ok = (results: readonly KvResult[] = []): KvOutcome => ({ status: 'ok', results });
const rejected = (message: string): KvOutcome => ({ status: 'rejected', message });
const invalid = (message: string): KvOutcome => ({ status: 'invalid', message });
const quoted = (text: string): string => JSON.stringify(text);

/**
 * Stores `next` unless it reads back identically to `existing`; in that case nothing is written and
 * the ModifyIndex stays (an idempotent write does not count as a modification).
 */
function store(txn: KvTransaction, next: Omit<KvEntry, 'modifyIndex'>, existing?: KvEntry): KvEntry {
  const candidate: KvEntry = { ...next, modifyIndex: txn.index };
  if (existing && sameContents(existing, candidate)) return existing;
  txn.put(candidate);
  return candidate;
}

/**
 * A plain write keeps the key's CreateIndex and lock holder but not its LockIndex: the request carries
 * no LockIndex, so the stored one becomes 0. The KV docs describe LockIndex only in terms of
 * acquisitions; this follows what the Consul server does (README › Ambiguities).
 */
function plainWrite(txn: KvTransaction, op: KvOperation, existing: KvEntry | undefined): KvEntry {
  return store(
    txn,
    {
      key: op.key,
      value: op.value,
      flags: op.flags,
      session: existing?.session ?? '',
      lockIndex: 0,
      createIndex: existing?.createIndex ?? txn.index,
    },
    existing,
  );
}

const written = (entry: KvEntry): KvOutcome => ok([{ entry, withValue: false }]);

/** Runs one KV operation inside `txn`. Pure with respect to everything but `txn`. */
export function applyKvOperation(txn: KvTransaction, sessions: SessionLookup, op: KvOperation): KvOutcome {
  const existing = txn.get(op.key);
  switch (op.verb) {
    case 'set':
      return written(plainWrite(txn, op, existing));

    case 'cas': {
      // kv.mdx › cas: index 0 writes only when the key is absent; otherwise it must equal ModifyIndex.
      const current = existing?.modifyIndex ?? 0;
      if (op.index !== current) {
        return rejected(`key ${quoted(op.key)}: check-and-set index ${op.index} != current ${current}`);
      }
      return written(plainWrite(txn, op, existing));
    }

    case 'lock': {
      if (op.session === '') return invalid('lock needs a session');
      if (!sessions.exists(op.session)) return invalid(`invalid session ${quoted(op.session)}`);
      let lockIndex = 1;
      if (existing) {
        if (existing.session !== '' && existing.session !== op.session) {
          return rejected(`key ${quoted(op.key)} is locked by another session`);
        }
        // Re-acquiring a lock this session already holds keeps LockIndex; a new acquisition bumps it.
        lockIndex = existing.session === op.session ? existing.lockIndex : existing.lockIndex + 1;
      }
      const entry = store(
        txn,
        {
          key: op.key,
          value: op.value,
          flags: op.flags,
          session: op.session,
          lockIndex,
          createIndex: existing?.createIndex ?? txn.index,
        },
        existing,
      );
      return written(entry);
    }

    case 'unlock': {
      if (op.session === '') return invalid('unlock needs a session');
      if (!existing || existing.session !== op.session) {
        return rejected(`key ${quoted(op.key)} is not locked by session ${quoted(op.session)}`);
      }
      const entry = store(
        txn,
        {
          key: op.key,
          value: op.value,
          flags: op.flags,
          session: '',
          lockIndex: existing.lockIndex,
          createIndex: existing.createIndex,
        },
        existing,
      );
      return written(entry);
    }

    case 'get':
      if (!existing) return rejected(`key ${quoted(op.key)} does not exist`);
      return ok([{ entry: existing, withValue: true }]);

    case 'get-or-empty': {
      if (existing) return ok([{ entry: existing, withValue: true }]);
      // The missing key is reported with the request's own fields and an empty value.
      const placeholder: KvEntry = {
        key: op.key,
        value: new Uint8Array(0),
        flags: op.flags,
        session: op.session,
        lockIndex: 0,
        createIndex: 0,
        modifyIndex: op.index,
      };
      return ok([{ entry: placeholder, withValue: true }]);
    }

    case 'get-tree':
      return ok(txn.list(op.key).map((entry) => ({ entry, withValue: true })));

    case 'check-index':
      if (!existing) return rejected(`index check: key ${quoted(op.key)} does not exist`);
      if (existing.modifyIndex !== op.index) {
        return rejected(
          `index check: key ${quoted(op.key)} has ModifyIndex ${existing.modifyIndex}, not ${op.index}`,
        );
      }
      return written(existing);

    case 'check-session':
      if (!existing) return rejected(`session check: key ${quoted(op.key)} does not exist`);
      if (existing.session !== op.session) {
        return rejected(
          `session check: key ${quoted(op.key)} is held by ${quoted(existing.session)}, not ${quoted(op.session)}`,
        );
      }
      return written(existing);

    case 'check-not-exists':
      if (existing) return rejected(`key ${quoted(op.key)} exists`);
      return ok();

    case 'delete':
      if (existing) txn.delete(op.key);
      return ok();

    case 'delete-tree':
      for (const entry of txn.list(op.key)) txn.delete(entry.key);
      return ok();

    case 'delete-cas':
      // A key that is already gone counts as deleted; an index that does not match is refused.
      // kv.mdx › Delete Key › cas: an index of 0 never matches an existing key.
      if (!existing) return ok();
      if (existing.modifyIndex !== op.index) {
        return rejected(`key ${quoted(op.key)}: delete index ${op.index} != current ${existing.modifyIndex}`);
      }
      txn.delete(op.key);
      return ok();

    default:
      return invalid(`unknown KV verb ${quoted(op.verb)}`);
  }
}
