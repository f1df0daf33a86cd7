// Preloaded by a test (node --require) to make one package fail to resolve, as a missing or
// unbuilt native binding would: the package named by LOCKSTEP_TEST_BLOCK_MODULE.
const Module = require('node:module');

const blocked = process.env.LOCKSTEP_TEST_BLOCK_MODULE;
const load = Module._load;
Module._load = function loadUnlessBlocked(request, ...rest) {
  if (request === blocked) {
    const error = new Error(`Cannot find module '${request}' (blocked by the test)`);
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return load.call(this, request, ...rest);
};
