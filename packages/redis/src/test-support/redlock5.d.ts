// redlock@5.0.0-beta.2 has types, but its package.json "exports" hides them from NodeNext
// resolution; the little its interop test uses.
declare module 'redlock5' {
  import type { EventEmitter } from 'node:events';
  import type { Redis } from 'ioredis';

  interface Redlock5Lock {
    release(): Promise<unknown>;
  }

  interface Redlock5Settings {
    retryCount?: number;
    retryDelay?: number;
    retryJitter?: number;
    driftFactor?: number;
    automaticExtensionThreshold?: number;
  }

  class Redlock5 extends EventEmitter {
    constructor(clients: Iterable<Redis>, settings?: Redlock5Settings);
    acquire(resources: string[], duration: number, settings?: Redlock5Settings): Promise<Redlock5Lock>;
  }

  export default Redlock5;
}
