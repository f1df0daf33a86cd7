/**
 * The lock libraries users pick instead of lockstep on Redis, loaded on first use (so this
 * package's testing tools load without them) and typed by the little the tools use: redlock 4
 * ships no types, and redlock 5 hides its types behind its `exports`.
 * @module
 */
import type { Redis } from 'ioredis';

/** Options both redlock versions accept. */
export interface RedlockOptions {
  readonly retryCount?: number;
  readonly retryDelay?: number;
  readonly retryJitter?: number;
}

/** redlock@4.2.0's API. */
export interface Redlock4 {
  lock(resource: string, ttl: number): Promise<{ unlock(): Promise<unknown> }>;
  on(event: 'clientError', listener: (error: unknown) => void): unknown;
}

/** redlock@5.0.0-beta.2's API. */
export interface Redlock5 {
  acquire(resources: string[], ttl: number): Promise<{ release(): Promise<unknown> }>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

async function untyped<T>(specifier: string): Promise<T> {
  const module = (await import(specifier)) as { default?: T };
  return (module.default ?? module) as T;
}

/** redlock 4 over `clients`, its client errors silenced (they surface as failed attempts). */
export async function redlock4(clients: Redis[], options: RedlockOptions): Promise<Redlock4> {
  const Ctor = await untyped<new (clients: Redis[], options: RedlockOptions) => Redlock4>('redlock4');
  const redlock = new Ctor(clients, options);
  redlock.on('clientError', () => {});
  return redlock;
}

/** redlock 5 over `clients` (one instance, or a quorum of several), its errors silenced. */
export async function redlock5(clients: Redis[], options: RedlockOptions): Promise<Redlock5> {
  const Ctor = await untyped<new (clients: Redis[], options: RedlockOptions) => Redlock5>('redlock5');
  const redlock = new Ctor(clients, options);
  redlock.on('error', () => {});
  return redlock;
}

/** The Redis key redis-semaphore's `Mutex` uses for `name`. */
export function redisSemaphoreKey(name: string): string {
  return `mutex:${name}`;
}

/** The Redis key of redis-semaphore's `Semaphore` for `name`: a sorted set of holder ids. */
export function redisSemaphoreSetKey(name: string): string {
  return `semaphore:${name}`;
}
