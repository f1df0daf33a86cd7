#!/usr/bin/env node
/**
 * The `lockstep` executable.
 * @module
 */
import { main } from './main.js';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
