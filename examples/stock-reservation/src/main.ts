/**
 * A flash sale: many buyers, few items, never oversold.
 *   npm start -- [--items 20] [--buyers 60]
 *   LOCKSTEP_URL=postgres://localhost/app npm start
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@lockstep/core';
import { loadAdapterFor } from './adapters.js';
import { StockStore } from './store.js';

export async function runFlashSale(url: string, items: number, buyers: number, shops = 3) {
  await loadAdapterFor(url);
  // Several "shop servers", each with its own connection, all selling the same stock.
  const coords = await Promise.all(Array.from({ length: shops }, () => connect(url)));
  const sku = `sku-${Math.random().toString(36).slice(2, 8)}`;
  await new StockStore(coords[0]!).restock(sku, items);
  const attempts = Array.from({ length: buyers }, (_, i) => {
    const store = new StockStore(coords[i % shops]!);
    return store.reserve(sku, 1 + (i % 2));
  });
  const results = await Promise.all(attempts);
  const sold = results.reduce((n, r, i) => n + (r.ok ? 1 + (i % 2) : 0), 0);
  const left = await new StockStore(coords[0]!).onHand(sku);
  await Promise.all(coords.map((c) => c.close()));
  return {
    sold,
    left,
    accepted: results.filter((r) => r.ok).length,
    refused: results.filter((r) => !r.ok).length,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { items: { type: 'string', default: '20' }, buyers: { type: 'string', default: '60' } },
  });
  const dir = process.env.LOCKSTEP_URL ? undefined : mkdtempSync(join(tmpdir(), 'lockstep-stock-'));
  const url = process.env.LOCKSTEP_URL ?? `file://${dir}`;
  const items = Number(values.items);
  const r = await runFlashSale(url, items, Number(values.buyers));
  if (dir) rmSync(dir, { recursive: true, force: true });
  console.log(
    `${r.accepted} orders accepted (${r.sold} items), ${r.refused} refused, ${r.left} left of ${items}`,
  );
  process.exit(r.sold + r.left === items && r.left >= 0 ? 0 : 1);
}
