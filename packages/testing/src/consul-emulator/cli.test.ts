/** The CLI the testing kit spawns: `main.ts --port N [--host H]`. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];

function launch(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: 'pipe' });
  children.push(child);
  return child;
}

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

async function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return line;
}

describe('consul emulator CLI', () => {
  it('prints exactly "READY consul://127.0.0.1:PORT", serves, and exits 0 on SIGTERM', async () => {
    const child = launch(['--port', '0']);
    const line = await firstLine(child);
    const match = /^READY consul:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
    expect(match, line).not.toBeNull();
    const response = await fetch(`http://127.0.0.1:${match?.[1]}/v1/status/leader`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-lockstep-emulator')).toBe('true');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  });

  it('exits on SIGINT too, and honours --host', async () => {
    const child = launch(['--port', '0', '--host', '127.0.0.1', '--session-ttl-min', '1s']);
    expect(await firstLine(child)).toMatch(/^READY consul:\/\/127\.0\.0\.1:\d+$/);
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    expect(((await exited) as [number | null])[0]).toBe(0);
  });

  it('refuses missing or bad arguments with exit code 2 and a message on stderr', async () => {
    for (const args of [[], ['--port', 'abc'], ['--port', '0', '--invalidation-factor', '3'], ['--bogus']]) {
      const child = launch(args);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toContain('consul-emulator:');
    }
  });
});
