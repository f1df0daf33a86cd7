import { describe, expect, it } from 'vitest';
import { AdapterNotInstalledError, InvalidArgumentError } from './errors.js';
import { connect, connectMemory } from './index.js';
import { closestName, rejectUnknownOptions } from './option-names.js';
import { loadAdapterPackage } from './registry.js';

function rejection(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('unknown option names', () => {
  it('name the closest known option, ignoring case', () => {
    expect(closestName('prefx', ['prefix', 'connectTimeoutMs'])).toBe('prefix');
    expect(closestName('connectTimeoutMS', ['prefix', 'connectTimeoutMs'])).toBe('connectTimeoutMs');
    expect(closestName('ttl', ['ttlMs', 'autoExtend'])).toBe('ttlMs');
    expect(closestName('somethingElse', ['prefix'])).toBeUndefined();
  });

  it('are rejected with the argument and a hint', () => {
    const error = rejection(() => rejectUnknownOptions({ prefx: 'a' }, ['prefix'], 'test options'));
    expect(error.argument).toBe('prefx');
    expect(error.message).toContain('did you mean "prefix"?');
    // A misspelt key is a mistake whatever its value.
    rejection(() => rejectUnknownOptions({ prefx: undefined }, ['prefix'], 'test options'));
    rejectUnknownOptions({ prefix: 'a' }, ['prefix'], 'test options');
  });

  it('in connect() options and in URL query parameters, before anything is created', async () => {
    await expect(connect('memory://opts', { prefx: 'a' } as never)).rejects.toThrow(/did you mean "prefix"/);
    await expect(connect('memory://opts?prefx=a')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => connectMemory('opts', { prefx: 'a' } as never)).toThrow(InvalidArgumentError);
  });

  it('in lock, acquire and counter options, before any I/O', async () => {
    const coord = connectMemory('opts');
    const lockError = rejection(() => coord.lock('l', { ttl: 1000 } as never));
    expect(lockError.message).toContain('did you mean "ttlMs"?');
    await expect(coord.lock('l').acquire({ wait: 10 } as never)).rejects.toThrow(/did you mean "waitMs"/);
    await expect(coord.lock('l').withLock(() => 1, { timeoutMs: 10 } as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    rejection(() => coord.counter('c', { minimum: 0 } as never));
    // Nothing was taken by the rejected calls.
    const held = await coord.lock('l').tryAcquire();
    expect(held).not.toBeNull();
    await held!.release();
    await coord.close();
  });
});

describe('connect() types', () => {
  it("checks a known scheme's options at compile time and lets unknown ones through", () => {
    // Compiled, not run: the @ts-expect-error lines fail the typecheck if the types loosen.
    const typed = () => {
      void connect('memory://x', { prefix: 'a' });
      // @ts-expect-error a typo in a known scheme's options
      void connect('memory://x', { prefx: 'a' });
      // A URL known only at run time takes any option; the adapter checks it when connecting.
      const fromEnv: string = process.env.LOCKSTEP_URL ?? 'memory://';
      void connect(fromEnv, { commandTimeoutMs: 100 });
    };
    expect(typeof typed).toBe('function');
  });
});

describe('an adapter that cannot be loaded', () => {
  it('that is not installed: says what to install and what to do when bundling', async () => {
    const error = await loadAdapterPackage('consul', '@lockstep/not-installed').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as Error).message).toContain('npm install @lockstep/not-installed');
    expect((error as Error).message).toContain("import '@lockstep/not-installed'");
  });

  it('that is installed but fails to load: says why, not "npm install"', () => {
    const cause = new Error('Cannot find module ./build/Release/binding.node');
    const error = new AdapterNotInstalledError('file', '@lockstep/file', { cause });
    expect(error.message).toContain('installed but failed to load');
    expect(error.message).toContain('binding.node');
    expect(error.message).not.toContain('npm install');
  });
});
