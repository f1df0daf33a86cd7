// redlock@4.2.0 ships no types; the little its interop test uses.
declare module 'redlock4' {
  import type { Redis } from 'ioredis';

  interface Redlock4Lock {
    unlock(): Promise<void>;
  }

  class Redlock4 {
    constructor(
      clients: Redis[],
      options?: { retryCount?: number; retryDelay?: number; retryJitter?: number; driftFactor?: number },
    );
    lock(resource: string, ttl: number): Promise<Redlock4Lock>;
    on(event: 'clientError', listener: (error: unknown) => void): this;
  }

  export default Redlock4;
}
