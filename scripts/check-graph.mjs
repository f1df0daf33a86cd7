#!/usr/bin/env node
// Fails on a dependency cycle between workspace packages (dependencies, devDependencies,
// peerDependencies and optionalDependencies all count: any of them makes the build order and
// the published graph circular) and on an import cycle between the source files of one
// package (static, dynamic and type-only imports of relative paths). No dependencies of its
// own: it runs before anything is installed. Prints every cycle it finds.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The workspace's package directories, from pnpm-workspace.yaml (`dir` and `dir/*` entries). */
export function workspaceDirs(rootDir) {
  const yaml = readFileSync(join(rootDir, 'pnpm-workspace.yaml'), 'utf8');
  const block = /^packages:\s*\n((?:[ \t]+-.*\n?)+)/m.exec(yaml)?.[1] ?? '';
  const patterns = [...block.matchAll(/^[ \t]+-\s*['"]?([^'"\n]+?)['"]?\s*$/gm)].map((m) => m[1]);
  const dirs = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) {
      const parent = join(rootDir, pattern.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const entry of readdirSync(parent)) dirs.push(join(parent, entry));
    } else dirs.push(join(rootDir, pattern));
  }
  return dirs.filter((dir) => existsSync(join(dir, 'package.json')));
}

/** Every cycle of a directed graph (Map node → iterable of nodes), each once, as a node path. */
export function findCycles(graph) {
  const cycles = [];
  const seen = new Set();
  const state = new Map(); // node → 'open' while on the DFS stack, 'done' after
  const stack = [];
  const visit = (node) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        const key = [...cycle.slice(0, -1)].sort().join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

/** Workspace package name → the workspace packages it depends on, in any dependency field. */
export function packageGraph(dirs) {
  const manifests = dirs.map((dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
  const names = new Set(manifests.map((pkg) => pkg.name));
  const graph = new Map();
  for (const pkg of manifests) {
    const deps = new Set();
    for (const field of DEPENDENCY_FIELDS)
      for (const name of Object.keys(pkg[field] ?? {}))
        if (names.has(name) && name !== pkg.name) deps.add(name);
    graph.set(pkg.name, deps);
  }
  return graph;
}

const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js|jsx)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.turbo', 'coverage', '.tmp']);

function sourceFiles(dir, into = []) {
  for (const entry of readdirSync(dir)) {
    if (SKIP_DIRS.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) sourceFiles(path, into);
    else if (SOURCE.test(entry) && !entry.endsWith('.d.ts')) into.push(path);
  }
  return into;
}

// `import … from '…'`, `export … from '…'`, `import '…'`, `import('…')`, `require('…')`.
const SPECIFIERS =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])(\.{1,2}\/[^'"]*|\.{1,2})\1/g;

/** The file a relative specifier names: `./x.js` may be `x.ts` in the sources, `./dir` its index. */
function resolveRelative(from, specifier, files) {
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(?:[cm]?js|jsx)$/, '');
  const candidates = [
    base,
    `${stem}.ts`,
    `${stem}.tsx`,
    `${stem}.mts`,
    `${stem}.cts`,
    `${stem}.js`,
    `${stem}.mjs`,
  ];
  for (const index of ['index.ts', 'index.tsx', 'index.js', 'index.mjs']) candidates.push(join(base, index));
  return candidates.find((candidate) => files.has(candidate));
}

/** File → the files of the same package it imports by relative path. */
export function importGraph(dir) {
  const files = new Set(sourceFiles(dir));
  const graph = new Map();
  for (const file of files) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|(^|[^:'"`])\/\/.*$/gm, '$1');
    const targets = new Set();
    for (const match of text.matchAll(SPECIFIERS)) {
      const target = resolveRelative(file, match[2], files);
      if (target !== undefined && target !== file) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

function main() {
  const dirs = workspaceDirs(root);
  let problems = 0;
  for (const cycle of findCycles(packageGraph(dirs))) {
    problems++;
    console.log(`package cycle: ${cycle.join(' → ')}`);
  }
  for (const dir of dirs) {
    for (const cycle of findCycles(importGraph(dir))) {
      problems++;
      console.log(
        `import cycle in ${relative(root, dir)}: ${cycle.map((file) => relative(dir, file)).join(' → ')}`,
      );
    }
  }
  if (problems > 0) {
    console.log(`check-graph: ${problems} cycle(s)`);
    process.exit(1);
  }
  console.log(`check-graph: no cycles between ${dirs.length} workspace packages or within their sources`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
