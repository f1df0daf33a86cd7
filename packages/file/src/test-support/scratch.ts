/**
 * The scratch directory of one test file, with coordinators on it that are closed (and
 * contender processes that are killed) after each test, passing or not.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Coordinator } from '@lockstep/core';
import { afterAll, afterEach } from 'vitest';
import { connectFile } from '../index.js';
import { killContenders } from './children.js';

/** A scratch directory. */
export interface Scratch {
  readonly dir: string;
  /** A new coordinator on `dir`, closed after the test. */
  coordinator(): Coordinator;
}

/** Creates the directory and registers the hooks that clean up after each test and at the end. */
export function scratchDirectory(label: string): Scratch {
  const dir = mkdtempSync(join(tmpdir(), `lockstep-file-${label}-`));
  const coordinators: Coordinator[] = [];
  afterEach(async () => {
    killContenders();
    for (const coord of coordinators.splice(0)) await coord.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    coordinator: () => {
      const coord = connectFile(dir);
      coordinators.push(coord);
      return coord;
    },
  };
}
