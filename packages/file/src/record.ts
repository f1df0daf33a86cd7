/**
 * The JSON record a lock or counter file holds: one line, rewritten in place inside a
 * critical section. A record is read up to its first newline, so a shorter rewrite that
 * was interrupted before truncation still parses.
 * @module
 */
import { fstatSync, ftruncateSync, readFileSync, readSync, writeSync } from 'node:fs';

/** Reads the record of an open file, or `undefined` for a new (empty) file. */
export function readRecord<T>(fd: number): T | undefined {
  const size = fstatSync(fd).size;
  if (size === 0) return undefined;
  // Not zero-filled (a small read comes from the shared pool); only the bytes read are decoded.
  const buf = Buffer.allocUnsafe(size);
  const text = buf.toString('utf8', 0, readSync(fd, buf, 0, size, 0));
  const end = text.indexOf('\n');
  return JSON.parse(end < 0 ? text : text.slice(0, end)) as T;
}

/** Replaces the record of an open file. */
export function writeRecord(fd: number, record: unknown): void {
  const buf = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
  writeSync(fd, buf, 0, buf.length, 0);
  ftruncateSync(fd, buf.length);
}

/**
 * Reads a record without taking the file lock, to decide whether a critical section is worth
 * entering. `undefined` when the file cannot be read or holds no complete record (a rewrite
 * in progress, a new file): the caller then enters the section and decides there.
 */
export function peekRecord<T>(path: string): T | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    const end = text.indexOf('\n');
    return end < 0 ? undefined : (JSON.parse(text.slice(0, end)) as T);
  } catch {
    return undefined;
  }
}
