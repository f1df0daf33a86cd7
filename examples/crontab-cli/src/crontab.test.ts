import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { useServer } from '@lockstep/testing/vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';

// A real redis-server from @lockstep/testing (startServer); every test is skipped, with the
// reason printed, when no source can provide one — or fails, when LOCKSTEP_REQUIRE lists redis.
const redis = useServer('redis');

const exampleDir = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'lockstep-crontab-'));
const tokens = join(dir, 'tokens');
const go = join(dir, 'go');
const script = join(dir, 'report.sh');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  // The bin runs the CLI's build: `turbo run test` builds it first (this package depends on it).
  const cliDir = dirname(createRequire(import.meta.url).resolve('lockstep/package.json'));
  if (!existsSync(join(cliDir, 'dist', 'cli.js'))) {
    throw new Error(`the lockstep CLI is not built; run: pnpm turbo run build --filter=lockstep`);
  }
  // Stands in for /usr/local/bin/report.sh: records the token it was given, then stays busy
  // (holding the lock) until the test has seen the other firings end, at most 10 s.
  writeFileSync(
    script,
    `#!/bin/sh
echo "$LOCKSTEP_FENCING_TOKEN" >> '${tokens}'
i=0
while [ ! -e '${go}' ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
`,
  );
  chmodSync(script, 0o755);
});

/** The command of the first schedule line of crontab.example: what cron hands to /bin/sh. */
function crontabCommand(): string {
  const line = readFileSync(join(exampleDir, 'crontab.example'), 'utf8')
    .split('\n')
    .find((l) => l.trim() !== '' && !l.trimStart().startsWith('#') && !/^\s*\w+=/.test(l));
  if (line === undefined) throw new Error('crontab.example has no schedule line');
  // Five time fields, then the command, as cron splits it.
  const command = /^\s*(?:\S+\s+){5}(.*)$/.exec(line)?.[1];
  if (command === undefined) throw new Error(`not a crontab line: ${line}`);
  return command;
}

interface Firing {
  code: number | null;
  stderr: string;
}

/** One cron firing: the line's command under /bin/sh, with cron's sparse environment. */
function fire(command: string): Promise<Firing> {
  const child = spawn('/bin/sh', ['-c', command], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      // The example's node_modules/.bin has `lockstep`, as a global install would; node for its shebang.
      PATH: [join(exampleDir, 'node_modules', '.bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(
        ':',
      ),
      HOME: process.env.HOME ?? '/',
      SHELL: '/bin/sh',
    },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

const readTokens = () =>
  existsSync(tokens)
    ? readFileSync(tokens, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map(BigInt)
    : [];

it('three hosts fire the crontab line at once: one runs the report, two skip with 75; the next firing runs with a larger token', async () => {
  const line = crontabCommand();
  expect(line).toMatch(
    /^lockstep run redis:\/\/\S+ nightly-report --ttl 10m --wait 0 -- \/usr\/local\/bin\/report\.sh$/,
  );
  const command = line.replace(/redis:\/\/\S+/, redis.url).replace('/usr/local/bin/report.sh', `'${script}'`);

  const firings = [fire(command), fire(command), fire(command)];
  // The two that skip end on their own; then the running report may finish.
  let ended = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    for (const firing of firings) {
      void firing.then(() => {
        if (++ended === 2) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
  writeFileSync(go, '');
  const first = await Promise.all(firings);

  expect(first.map((f) => f.code).sort()).toEqual([0, 75, 75]);
  const [t1] = readTokens();
  expect(readTokens()).toHaveLength(1);
  const ran = first.find((f) => f.code === 0)!;
  expect(ran.stderr).toContain(`holding "nightly-report" (fencing token ${t1})`);
  for (const skipped of first.filter((f) => f.code === 75)) {
    expect(skipped.stderr).toMatch(/"nightly-report" is held by someone else; not running the command/);
  }

  const second = await fire(command);
  expect(second.code).toBe(0);
  const all = readTokens();
  expect(all).toHaveLength(2);
  expect(all[1]!).toBeGreaterThan(all[0]!);
}, 20_000);
