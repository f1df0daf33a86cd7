/**
 * A leadership of a Consul election: a {@link ConsulGrant} on the election's key, renewed with its
 * session like a lock, whose term is the key's CreateIndex.
 *
 * Proclaim is one transaction, `[check-session K S, cas K value I, get K]`: it writes only while
 * this session holds the key, and only over the index this leadership last wrote, so a deposed
 * leader (its session invalidated, the key deleted and taken by another) can never overwrite its
 * successor's value. The CAS keeps the key's session and CreateIndex, so the term stays.
 * @module
 */
import type { LeadershipGrant } from '@lockstep/core/driver';
import { ConsulGrant } from './grant.js';
import { readKey, type TxnOp, transaction } from './kv.js';

/** See the module comment. Its fencing token is the term: the key's CreateIndex. */
export class ConsulLeadership extends ConsulGrant implements LeadershipGrant {
  /**
   * One request. When the CAS was refused because someone else wrote the key while this session
   * still holds it at the same term, one more read and one more CAS over that write.
   */
  async proclaim(value: string): Promise<boolean> {
    const { http } = this.scope;
    const doing = 'proclaiming a value';
    if (await this.#write(value, this.keyIndex)) return true;
    const now = await readKey(http, this.key, doing);
    if (now?.session !== this.session.id || now.createIndex !== this.fencingToken) return false;
    return this.#write(value, now.modifyIndex);
  }

  async #write(value: string, index: bigint): Promise<boolean> {
    const { key, session } = this;
    const ops: TxnOp[] = [
      { verb: 'check-session', key, session: session.id },
      { verb: 'cas', key, value, index },
      { verb: 'get', key },
    ];
    const outcome = await transaction(this.scope.http, ops, 'proclaiming a value');
    if (!outcome.committed) return false;
    const written = outcome.entries.findLast((entry) => entry.key === key);
    if (written) this.rewrote(written.modifyIndex);
    return true;
  }
}
