/**
 * node-zookeeper-client ships no type declarations. The module is typed where it is imported
 * (raw.ts): this only tells TypeScript that it exists.
 */
declare module 'node-zookeeper-client' {
  const zookeeper: unknown;
  export = zookeeper;
}
