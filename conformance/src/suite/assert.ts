/**
 * The few assertions the suite needs, without a test framework (the compare runner has none).
 * Failures are {@link ConformanceFailure}s whose messages say what was expected and seen.
 * @module
 */

/** A conformance check did not hold: the backend (or adapter) broke the contract. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

/** Thrown by `ctx.skip(reason)`: the test does not apply, for a reason found while running. */
export class SkipTest extends Error {
  override readonly name = 'SkipTest';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Fails with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ConformanceFailure(message);
}

/** Fails unless `actual === expected`. */
export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) {
    throw new ConformanceFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** How an operation settled, and when. */
export type Settled<T> =
  | { readonly ok: true; readonly value: T; readonly ms: number }
  | { readonly ok: false; readonly error: unknown; readonly ms: number };

/** Awaits `operation` and reports how it settled and how long it took. Never throws. */
export async function settle<T>(operation: Promise<T> | (() => Promise<T>)): Promise<Settled<T>> {
  const start = performance.now();
  try {
    const value = await (typeof operation === 'function' ? operation() : operation);
    return { ok: true, value, ms: performance.now() - start };
  } catch (error) {
    return { ok: false, error, ms: performance.now() - start };
  }
}

/**
 * Expects `operation` to reject with an error `matches` accepts: an error class (lockstep's
 * compare stable codes in `instanceof`, so they work across copies of core) or an arrow
 * predicate.
 * @returns the error and the time it took to reject.
 */
export async function expectRejection(
  operation: Promise<unknown> | (() => Promise<unknown>),
  matches: ((error: unknown) => boolean) | (abstract new (...args: never[]) => unknown),
  what: string,
): Promise<{ error: unknown; ms: number }> {
  const outcome = await settle(operation);
  if (outcome.ok)
    throw new ConformanceFailure(`${what}: expected a rejection, it resolved with ${show(outcome.value)}`);
  const accepted = isClass(matches) ? outcome.error instanceof matches : matches(outcome.error);
  if (!accepted)
    throw new ConformanceFailure(`${what}: rejected with the wrong error: ${describeError(outcome.error)}`);
  return { error: outcome.error, ms: outcome.ms };
}

/** Expects `fn()` to throw synchronously with an error of class `type`. */
export function expectThrow(
  fn: () => unknown,
  type: abstract new (...args: never[]) => unknown,
  what: string,
): void {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    if (!(error instanceof type))
      throw new ConformanceFailure(`${what}: threw the wrong error: ${describeError(error)}`);
    return;
  }
  throw new ConformanceFailure(`${what}: expected ${type.name}, got ${show(result)}`);
}

/**
 * Resolves with `promise`'s value, or fails with `what` when it takes longer than `ms`
 * (the promise is left to settle on its own; attach cleanup to it if needed).
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConformanceFailure(`${what}: did not settle within ${Math.round(ms)} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A short, safe rendering of a value for messages (bigints included). */
export function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object')
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  if (value instanceof Error) return describeError(value);
  try {
    return (
      JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))?.slice(0, 200) ?? String(value)
    );
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** `Name(code): message` of an error, or a rendering of a non-error. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error))
    return `non-error ${typeof error === 'object' ? show(error) : String(error)}`;
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? `(${code})` : ''}: ${error.message}`;
}

/** Classes (and plain functions) have a prototype; the arrow predicates callers pass do not. */
function isClass(value: unknown): value is abstract new (...args: never[]) => unknown {
  return typeof value === 'function' && (value as { prototype?: unknown }).prototype !== undefined;
}
