/**
 * CLI: `main.ts --port N [--host H] [--invalidation-factor F] [--session-ttl-min DURATION]`
 *
 * Starts the Consul HTTP API emulator, prints exactly one line `READY consul://HOST:PORT` to stdout
 * and serves until SIGTERM or SIGINT. `--port 0` picks a free port. Diagnostics go to stderr.
 */
import { parseArgs } from 'node:util';
import { parseGoDuration } from './duration.js';
import { startConsulEmulator } from './server.js';

function fail(message: string): never {
  process.stderr.write(`consul-emulator: ${message}\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'invalidation-factor': { type: 'string' },
        'session-ttl-min': { type: 'string' },
      },
      strict: true,
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();

if (values.port === undefined || !/^\d+$/.test(values.port))
  fail('--port N is required (0 picks a free port)');
let sessionTtlMinMs: number | undefined;
if (values['session-ttl-min'] !== undefined) {
  const nanos = parseGoDuration(values['session-ttl-min']);
  if (nanos === undefined || nanos <= 0) fail('--session-ttl-min takes a duration such as 1s or 500ms');
  sessionTtlMinMs = nanos / 1e6;
}

try {
  const emulator = await startConsulEmulator({
    port: Number(values.port),
    host: values.host,
    invalidationFactor:
      values['invalidation-factor'] === undefined ? undefined : Number(values['invalidation-factor']),
    sessionTtlMinMs,
  });
  const stop = () => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`READY ${emulator.url}\n`);
} catch (error) {
  fail((error as Error).message);
}
