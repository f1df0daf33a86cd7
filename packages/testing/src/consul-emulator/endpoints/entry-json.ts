import type { KvEntry } from '../kv-store.js';

/**
 * A KV entry in Consul's JSON shape (kv.mdx › Read Key › Metadata Response): `Value` is base64,
 * `null` when empty or not requested; `Session` appears only while the lock is held.
 */
export function entryJson(entry: KvEntry, withValue = true): Record<string, unknown> {
  return {
    LockIndex: entry.lockIndex,
    Key: entry.key,
    Flags: entry.flags,
    Value: withValue && entry.value.length > 0 ? Buffer.from(entry.value).toString('base64') : null,
    Session: entry.session === '' ? undefined : entry.session,
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex,
  };
}
