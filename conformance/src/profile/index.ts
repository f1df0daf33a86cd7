/**
 * `@lockstep/conformance/profile`: the contract between an adapter's `/testing` subpath and
 * the tools that compare backends — what a backend supplies ({@link BackendProfile}) and the
 * helpers that build targets over servers from @lockstep/testing.
 * @module
 */
export {
  adapterEntry,
  clusterTarget,
  provisionServerTarget,
  type ServerTargetOptions,
  serverTarget,
  type TargetShape,
  urlTarget,
  withQuery,
} from './server.js';
export * from './types.js';
