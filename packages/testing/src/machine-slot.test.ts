import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { takeMachineSlot } from './machine-slot.js';

const fresh = () => `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const pathOf = (name: string) => join(tmpdir(), `lockstep-slot-${name}`);

describe('takeMachineSlot', () => {
  it('lets one holder in at a time; the next enters when the first releases', async () => {
    const name = fresh();
    const release = await takeMachineSlot(name);
    const waitedOn: number[] = [];
    let entered = false;
    const second = takeMachineSlot(name, { onWait: (pid) => waitedOn.push(pid) }).then((r) => {
      entered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(entered).toBe(false);
    expect(waitedOn).toEqual([process.pid]);
    release();
    const releaseSecond = await second;
    expect(existsSync(pathOf(name))).toBe(true);
    releaseSecond();
    expect(existsSync(pathOf(name))).toBe(false);
  });

  it('replaces a slot left by a process that died holding it', async () => {
    const name = fresh();
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    writeFileSync(pathOf(name), String(dead));
    const release = await takeMachineSlot(name, { waitMs: 2_000 });
    release();
  });

  it('gives up after waitMs while a live process holds it', async () => {
    const name = fresh();
    const release = await takeMachineSlot(name);
    try {
      await expect(takeMachineSlot(name, { waitMs: 300 })).rejects.toThrow(/still held by pid/);
    } finally {
      release();
    }
  });

  it('refuses a name that is not a plain file name', async () => {
    await expect(takeMachineSlot('../etc')).rejects.toThrow(TypeError);
  });
});
