/**
 * Runs `CuratorHolder.java` — a small Java program holding one of Curator's recipes
 * (`InterProcessMutex`, `InterProcessSemaphoreV2`, `InterProcessReadWriteLock`, `LeaderLatch`) —
 * against a server: compiled with `javac` into a temp dir (once per process), driven line by line.
 * Needs Java and Debian's Curator jars (`apt-get install -y libcurator-recipes-java`).
 * @module
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { check, checkEqual, type InteropContext, skipInterop } from '@lockstep/conformance/interop';
import { serversOf } from './raw.js';

const JARS_DIR = '/usr/share/java';
const JARS = [
  'curator-recipes',
  'curator-framework',
  'curator-client',
  'zookeeper',
  'zookeeper-jute',
  'guava',
  'slf4j-api',
  'slf4j-nop',
].map((jar) => join(JARS_DIR, `${jar}.jar`));

// Beside this module in the sources; from the build (dist/testing/ or a chunk in dist/), in the
// shipped src/testing/.
const SOURCE = [
  fileURLToPath(new URL('./CuratorHolder.java', import.meta.url)),
  fileURLToPath(new URL('../../src/testing/CuratorHolder.java', import.meta.url)),
  fileURLToPath(new URL('../src/testing/CuratorHolder.java', import.meta.url)),
].find((candidate) => existsSync(candidate));

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, program)));
}

/** Why Curator cannot be run here, or `undefined` when it can. */
export function curatorUnavailable(): string | undefined {
  if (!onPath('java') || !onPath('javac')) return 'no java/javac on PATH (Java 17 JDK needed)';
  if (SOURCE === undefined) return 'CuratorHolder.java is missing from @lockstep/zookeeper';
  const missing = JARS.filter((jar) => !existsSync(jar));
  if (missing.length > 0) {
    return `Curator jars missing (${missing.join(', ')}): apt-get install -y libcurator-recipes-java libslf4j-java (the test command's provisioning does this as root on Debian)`;
  }
  return undefined;
}

/** Compiles the holder into `dir`; returns the class path to run it with. */
export async function compileHolder(dir: string): Promise<string> {
  const classpath = [dir, ...JARS].join(':');
  copyFileSync(SOURCE!, join(dir, 'CuratorHolder.java'));
  await promisify(execFile)('javac', ['-cp', classpath, '-d', dir, join(dir, 'CuratorHolder.java')], {
    timeout: 120_000,
  });
  return classpath;
}

let compiled: Promise<string> | undefined;

/**
 * The holder compiled once for this process (javac takes seconds): the class path to run it
 * with. The temp dir is removed when the process exits.
 */
export function compiledHolder(): Promise<string> {
  if (compiled === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-curator-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    compiled = compileHolder(dir);
    compiled.catch(() => {
      compiled = undefined;
    });
  }
  return compiled;
}

/** The recipe a {@link CuratorProcess} runs, and its arguments (see CuratorHolder.java). */
export type CuratorRecipe =
  | readonly ['mutex', path: string, marker: string, tokens: string]
  | readonly ['semaphore', path: string, maxLeases: string, nodeData?: string]
  | readonly ['rwlock', path: string]
  | readonly ['latch', path: string, id: string];

/** One running Java service using one of Curator's recipes. */
export class CuratorProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string) => void)[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(classpath: string, servers: string, recipe: CuratorRecipe) {
    const args = (recipe as readonly (string | undefined)[]).filter(
      (arg): arg is string => arg !== undefined,
    );
    this.#child = spawn('java', ['-Xmx128m', '-cp', classpath, 'CuratorHolder', servers, ...args]);
    this.#child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
  }

  /** The next line it prints, within `ms`. */
  next(ms: number): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(onLine);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`Curator holder said nothing within ${ms} ms; stderr: ${this.stderr.slice(-2000)}`));
      }, ms);
      const onLine = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.#waiters.push(onLine);
    });
  }

  /** Sends a command. */
  send(command: string): void {
    this.#child.stdin.write(`${command}\n`);
  }

  /** Sends a command and returns its answer. */
  async ask(command: string, ms = 30_000): Promise<string> {
    this.send(command);
    return this.next(ms);
  }

  /** Ends it (politely first). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    this.send('exit');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * A Curator service running `recipe` against `url` for one scenario (skipped, with the reason,
 * when Java or the jars are missing), stopped when the scenario ends.
 */
export async function curatorService(
  url: string,
  ctx: InteropContext,
  recipe: CuratorRecipe,
): Promise<CuratorProcess> {
  const unavailable = curatorUnavailable();
  if (unavailable !== undefined) skipInterop(unavailable);
  const service = new CuratorProcess(await compiledHolder(), serversOf(url), recipe);
  ctx.defer(() => service.stop());
  checkEqual(await service.next(60_000), 'ready', "the Curator service's first line");
  return service;
}

/** A directory for files shared with the Java side, removed when the scenario ends. */
export function scratchDir(ctx: InteropContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-curator-run-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ACQUIRED = /^(?:acquired|leader) \d+$/;

/** The czxid in Curator's `acquired <czxid>` (or `leader <czxid>`) answer. */
export function curatorToken(line: string): bigint {
  check(ACQUIRED.test(line), `Curator answered "${line}", expected "acquired <czxid>"`);
  return BigInt(line.split(' ')[1]!);
}
