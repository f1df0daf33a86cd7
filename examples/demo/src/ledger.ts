/**
 * The protected resource: an append-only ledger that accepts a write only when it carries a
 * fencing token larger than any it has accepted. This check — on the resource, not in the
 * lock — is what stops a holder that was paused past its lease from writing late.
 */
export interface LedgerEntry {
  readonly worker: number;
  readonly token: bigint;
  readonly note: string;
}

export type LedgerVerdict = { accepted: true } | { accepted: false; lastToken: bigint };

export class FencedLedger {
  readonly entries: LedgerEntry[] = [];
  readonly rejected: Array<LedgerEntry & { lastToken: bigint }> = [];
  #lastToken = -1n;

  append(entry: LedgerEntry): LedgerVerdict {
    if (entry.token <= this.#lastToken) {
      this.rejected.push({ ...entry, lastToken: this.#lastToken });
      return { accepted: false, lastToken: this.#lastToken };
    }
    this.#lastToken = entry.token;
    this.entries.push(entry);
    return { accepted: true };
  }

  /** True when accepted tokens strictly increase (always, by construction — shown as proof). */
  tokensStrictlyIncrease(): boolean {
    return this.entries.every((e, i) => i === 0 || e.token > this.entries[i - 1]!.token);
  }
}
