/**
 * `node --import tsx connect-file.ts <file:// URL>`: connects through core's `connect` and
 * prints `{ ok: true }` or the error's name, code and message as one JSON line.
 */
import { connect } from '@lockstep/core';
import '../index.js';

try {
  const coord = await connect(process.argv[2]!);
  await coord.close();
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  const { name, message, code } = error as Error & { code?: string };
  console.log(JSON.stringify({ ok: false, name, code, message }));
}
