/** Rewrites the capability table between the README's markers. */
import { readFileSync, writeFileSync } from 'node:fs';
import { declaredCapabilities, renderCapabilityTable } from './capability-table.js';

const readmeUrl = new URL('../../../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const table = renderCapabilityTable(await declaredCapabilities());
writeFileSync(
  readmeUrl,
  readme.replace(/(<!-- capabilities:start -->\n)[\s\S]*?(\n<!-- capabilities:end -->)/, `$1${table}$2`),
);
console.log(table);
