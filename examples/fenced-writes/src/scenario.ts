/**
 * The zombie scenario, step by step: writer A takes the lock and stalls past its lease;
 * writer B takes the lock (larger token) and writes; A wakes up and writes with its old
 * token — and the database refuses it.
 */
import { connect } from '@lockstep/core';
import pg from 'pg';
import { loadAdapterFor } from './adapters.js';
import { createDocumentsTable, fencedWrite, readDocument } from './documents.js';

export interface ScenarioResult {
  readonly tokenA: bigint;
  readonly tokenB: bigint;
  readonly bWrote: boolean;
  readonly zombieWrote: boolean;
  readonly aNoticedLoss: boolean;
  readonly finalBody: string | undefined;
}

export async function runZombieScenario(
  lockUrl: string,
  databaseUrl: string,
  log = console.log,
): Promise<ScenarioResult> {
  await loadAdapterFor(lockUrl);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const a = await connect(lockUrl);
  const b = await connect(lockUrl);
  const table = 'lockstep_example_documents';
  const doc = `invoice-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await createDocumentsTable(db, table);
    const ttlMs = Math.max(a.capabilities.lock.minTtlMs, 300);
    // A's lease is not renewed: that is what a long pause looks like from the outside.
    const heldA = await a.lock(doc, { ttlMs, autoExtend: false }).acquire();
    log(`A holds the lock with token ${heldA.fencingToken} and stalls...`);
    const heldB = await b.lock(doc, { ttlMs }).acquire({ waitMs: ttlMs * 10 });
    log(`A's lease ran out; B holds the lock with token ${heldB.fencingToken}`);
    const bWrote = await fencedWrite(db, table, doc, 'written by B', heldB.fencingToken);
    log(`B writes: ${bWrote ? 'accepted' : 'rejected'}`);
    await heldB.release();
    // A resumes as if nothing happened (a real app would check heldA.signal; the database must not rely on it).
    const zombieWrote = await fencedWrite(db, table, doc, 'written by A (zombie)', heldA.fencingToken);
    log(
      `A wakes up and writes with token ${heldA.fencingToken}: ${zombieWrote ? 'ACCEPTED (bad)' : 'rejected by the database'}`,
    );
    const final = await readDocument(db, table, doc);
    log(`the document says: "${final?.body}" (token ${final?.token})`);
    return {
      tokenA: heldA.fencingToken,
      tokenB: heldB.fencingToken,
      bWrote,
      zombieWrote,
      aNoticedLoss: heldA.signal.aborted,
      finalBody: final?.body,
    };
  } finally {
    await db.query(`DELETE FROM ${table} WHERE id = $1`, [doc]).catch(() => {});
    await Promise.all([a.close(), b.close(), db.end()]);
  }
}
