/**
 * Helpers for the emulator's own tests: start/stop an emulator, plain-fetch calls, a manual clock.
 * Not exported from the package.
 */
import { afterAll, beforeAll } from 'vitest';
import type { EmulatorClock } from './clock.js';
import type { ConsulEmulatorOptions } from './options.js';
import { type ConsulEmulator, startConsulEmulator } from './server.js';

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** `X-Consul-Index` as a number (NaN when absent). */
  readonly index: number;
  json<T = unknown>(): T;
}

export interface TestEmulator {
  readonly emulator: ConsulEmulator;
  call(path: string, init?: RequestInit): Promise<Reply>;
  put(path: string, body?: string | Uint8Array): Promise<Reply>;
  /** Creates a session and returns its ID. */
  session(body?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** A KV entry as the HTTP API answers it (kv.mdx › Read Key › Metadata Response). */
export interface KvEntryJson {
  Key: string;
  Value: string | null;
  Flags: number;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
  Session?: string;
}

export async function startTestEmulator(options: ConsulEmulatorOptions = {}): Promise<TestEmulator> {
  const emulator = await startConsulEmulator(options);
  const call = async (path: string, init: RequestInit = {}): Promise<Reply> => {
    const response = await fetch(emulator.httpUrl + path, { redirect: 'manual', ...init });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      index: Number(response.headers.get('x-consul-index') ?? Number.NaN),
      json: <T>() => JSON.parse(text) as T,
    };
  };
  const put = (path: string, body?: string | Uint8Array) => call(path, { method: 'PUT', body });
  return {
    emulator,
    call,
    put,
    async session(body = {}) {
      const reply = await put('/v1/session/create', JSON.stringify(body));
      if (reply.status !== 200) throw new Error(`session create failed: ${reply.status} ${reply.text}`);
      return reply.json<{ ID: string }>().ID;
    },
    close: () => emulator.close(),
  };
}

/**
 * One emulator for the whole test file: started in `beforeAll`, closed in `afterAll`. The
 * returned object forwards to it, so it can be held in a `const` at the top of the file.
 */
export function useTestEmulator(): TestEmulator {
  let started: TestEmulator | undefined;
  beforeAll(async () => {
    started = await startTestEmulator();
  });
  afterAll(() => started?.close());
  const current = (): TestEmulator => {
    if (!started) throw new Error('the test emulator is not started yet (beforeAll has not run)');
    return started;
  };
  return {
    get emulator() {
      return current().emulator;
    },
    call: (path, init) => current().call(path, init),
    put: (path, body) => current().put(path, body),
    session: (body) => current().session(body),
    close: () => current().close(),
  };
}

/** Runs `body` against a fresh emulator and always closes it. */
export async function withEmulator<T>(
  options: ConsulEmulatorOptions,
  body: (consul: TestEmulator) => Promise<T>,
): Promise<T> {
  const consul = await startTestEmulator(options);
  try {
    return await body(consul);
  } finally {
    await consul.close();
  }
}

let counter = 0;
/** A key no other test uses. */
export function uniqueKey(label: string): string {
  counter += 1;
  return `test/${label}/${process.pid}-${counter}`;
}

/** Resolves true if `promise` settles within `ms`, false otherwise (the promise keeps running). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A clock that only moves when told to; fires due timers in order. */
export class ManualClock implements EmulatorClock {
  #now = 0;
  #nextId = 0;
  readonly #timers = new Map<number, { due: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = ++this.#nextId;
    this.#timers.set(id, { due: this.#now + delayMs, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { due: number; callback: () => void }] | undefined;
      for (const timer of this.#timers) {
        if (timer[1].due <= target && (!next || timer[1].due < next[1].due)) next = timer;
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].due;
      next[1].callback();
    }
    this.#now = target;
  }
}
