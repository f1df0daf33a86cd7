/**
 * Stock as a bounded counter. `reserve` is one atomic decrement with `min: 0`: the backend
 * refuses a reservation that would oversell and writes nothing, so there is no
 * read-check-write window for concurrent buyers to slip through.
 */
import { type Coordinator, CounterBoundError } from '@lockstep/core';

export class StockStore {
  readonly #coord: Coordinator;
  constructor(coord: Coordinator) {
    this.#coord = coord;
  }

  #stock(sku: string) {
    return this.#coord.counter(`stock:${sku}`, { min: 0 });
  }

  /** Sets the quantity on hand. */
  restock(sku: string, quantity: number): Promise<void> {
    return this.#stock(sku).set(quantity);
  }

  /** Reserves `quantity`; `false` when not enough is left (nothing is taken then). */
  async reserve(sku: string, quantity: number): Promise<{ ok: true; left: number } | { ok: false }> {
    try {
      return { ok: true, left: await this.#stock(sku).decrement(quantity) };
    } catch (error) {
      if (error instanceof CounterBoundError) return { ok: false };
      throw error;
    }
  }

  /** Gives a reservation back (order cancelled). */
  release(sku: string, quantity: number): Promise<number> {
    return this.#stock(sku).increment(quantity);
  }

  onHand(sku: string): Promise<number> {
    return this.#stock(sku).get();
  }
}
