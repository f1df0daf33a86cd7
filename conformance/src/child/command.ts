/**
 * How to start a script of a package as a child process.
 * @module
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The `node` arguments that run a script beside the calling module (`callerUrl`, its
 * `import.meta.url`): from TypeScript sources, `source` through tsx with the `@lockstep/source`
 * condition, so workspace packages resolve to their sources as in the parent; from a build,
 * the file `built`. Both are relative to the caller.
 */
export function scriptCommand(callerUrl: string, source: string, built: string): string[] {
  if (callerUrl.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(callerUrl).resolve('tsx')).href;
    return ['--import', tsx, '--conditions=@lockstep/source', fileURLToPath(new URL(source, callerUrl))];
  }
  return [fileURLToPath(new URL(built, callerUrl))];
}
