/**
 * Child-process fixture for the leak tests: `hold-server.ts <kind> <then>` starts a server, prints
 * `{"pid","dataDir","url"}` on one line, then:
 * - `wait`: keeps running until killed (the parent SIGKILLs or SIGTERMs it),
 * - `exit`: calls process.exit(0) at once, without stopping the server.
 */
import { startServer } from '../start.js';
import type { ServerKind } from '../types.js';

const [kind = 'redis', then = 'wait'] = process.argv.slice(2);
const handle = await startServer(kind as ServerKind, { sources: ['binary', 'emulator'] });
process.stdout.write(`${JSON.stringify({ pid: handle.pid, dataDir: handle.dataDir, url: handle.url })}\n`);
if (then === 'exit') process.exit(0);
setInterval(() => {}, 60_000);
