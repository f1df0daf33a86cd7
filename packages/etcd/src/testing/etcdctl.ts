/**
 * The real `etcdctl` as a peer in interop scenarios: finding it (or skipping with the reason),
 * running it against the target with its output lines, and places for native keys.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hostList } from '@lockstep/conformance';
import { delay, type InteropContext, skipInterop } from '@lockstep/conformance/interop';

/** The `etcdctl` binary, or a skip saying it is missing. */
export function etcdctlPath(): string {
  let found = '';
  try {
    found = execFileSync('sh', ['-c', 'command -v etcdctl'], { encoding: 'utf8' }).trim();
  } catch {
    found = '';
  }
  if (found === '') skipInterop('etcdctl is not installed (Debian: etcd-client)');
  return found;
}

/** `etcd://h1:p1,h2:p2?…` → `h1:p1,h2:p2` (etcdctl's `--endpoints`). */
export function endpointsOf(url: string): string {
  return hostList(url)
    .map(({ host, port }) => `${decodeURIComponent(host)}:${port ?? 2379}`)
    .join(',');
}

/** A fresh scratch directory, removed when the scenario ends. */
export function scratchDir(ctx: InteropContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-etcdctl-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A native lock location no other run uses, under the scratch root. */
export const location = (ctx: InteropContext, what: string) => `/${ctx.place(what)}`;

/** A running `etcdctl` with its output lines; killed when the scenario ends. */
export type EtcdctlProcess = ReturnType<typeof etcdctl>;

/** `etcdctl --endpoints … ARGS`, with its output lines; killed when the scenario ends. */
export function etcdctl(ctx: InteropContext, url: string, args: readonly string[]) {
  const child: ChildProcess = spawn(etcdctlPath(), ['--endpoints', endpointsOf(url), ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  ctx.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const lines: Array<{ line: string; at: number }> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += String(chunk);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push({ line, at: performance.now() }));
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    /** When `text` was printed; fails after `timeoutMs` or when etcdctl exits without it. */
    async seen(text: string, timeoutMs: number): Promise<number> {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const hit = lines.find((l) => l.line.includes(text));
        if (hit) return hit.at;
        if (performance.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`etcdctl never printed "${text}" (exit ${child.exitCode}): ${stderr}`);
        }
        await delay(10);
      }
    },
  };
}
