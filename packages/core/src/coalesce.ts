/**
 * Counter coalescing: while one add for a counter is in flight, later adds from this
 * coordinator queue up and go to the backend as ONE add of their sum. Each caller still
 * gets a distinct result consistent with one serial order: caller i of a batch whose add
 * returned V receives V - sum + (d1 + ... + di). The batch takes effect at one instant
 * inside every member's call, so the history stays linearizable.
 *
 * With bounds, a batch only groups adds of one sign (so no intermediate value can cross a
 * bound the final one does not), and a batch the backend refuses is replayed one add at a
 * time, so every caller gets exactly the answer a lone call would have given.
 * @module
 */
import type { AddOutcome } from './driver.js';

interface Pending {
  readonly delta: number;
  readonly resolve: (outcome: AddOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/** Coalesces adds for one counter. `send` is the driver's atomic add. */
export class AddCoalescer {
  readonly #send: (delta: number) => Promise<AddOutcome>;
  readonly #bounded: boolean;
  #queue: Pending[] = [];
  #inFlight = false;
  /** Backend adds issued (for tests and benchmarks). */
  backendCalls = 0;

  constructor(send: (delta: number) => Promise<AddOutcome>, bounded: boolean) {
    this.#send = send;
    this.#bounded = bounded;
  }

  /** True when nothing is queued or in flight. */
  get idle(): boolean {
    return !this.#inFlight && this.#queue.length === 0;
  }

  add(delta: number): Promise<AddOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ delta, resolve, reject });
      if (!this.#inFlight) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#inFlight = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        await this.#run(batch);
      }
    } finally {
      this.#inFlight = false;
    }
  }

  #takeBatch(): Pending[] {
    if (!this.#bounded) {
      const all = this.#queue;
      this.#queue = [];
      return all;
    }
    const sign = Math.sign(this.#queue[0]!.delta);
    let n = 0;
    while (n < this.#queue.length && Math.sign(this.#queue[n]!.delta) === sign) n++;
    return this.#queue.splice(0, n);
  }

  async #run(batch: Pending[]): Promise<void> {
    const sum = batch.reduce((acc, p) => acc + p.delta, 0);
    // A lone add, a batch that cancels out, or a sum past the safe range goes one by one.
    if (batch.length === 1 || sum === 0 || !Number.isSafeInteger(sum)) return this.#runSingly(batch);
    let outcome: AddOutcome;
    try {
      this.backendCalls++;
      outcome = await this.#send(sum);
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    if (!outcome.ok) return this.#runSingly(batch);
    let value = outcome.value - sum;
    for (const p of batch) {
      value += p.delta;
      p.resolve({ ok: true, value });
    }
  }

  async #runSingly(batch: Pending[]): Promise<void> {
    for (const p of batch) {
      try {
        this.backendCalls++;
        p.resolve(await this.#send(p.delta));
      } catch (error) {
        p.reject(error);
      }
    }
  }
}
