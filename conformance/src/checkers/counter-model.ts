/**
 * The sequential specification of a lockstep counter, and the shape of a recorded history
 * of one. The linearizability checker asks one question of this model: "from value `s`,
 * can this operation have returned what it returned, and what is the value after it?"
 * @module
 */
import { InvalidHistoryError } from './errors.js';

/** The result of an operation rejected with `CounterBoundError`: nothing was written. */
export interface BoundFailure {
  readonly ok: false;
}

/** `get() -> value`. */
export interface GetOperation {
  readonly op: 'get';
  readonly input?: undefined;
  /** The value read. Ignored when the call never returned. */
  readonly output?: number;
}

/** `increment(d)` / `decrement(d)` recorded as `add(±d) -> new value`, or a bound failure. */
export interface AddOperation {
  readonly op: 'add';
  /** The signed amount: `+by` for increment, `-by` for decrement. */
  readonly input: number;
  /** The new value, or `{ ok: false }` for `CounterBoundError`. Ignored when the call never returned. */
  readonly output?: number | BoundFailure;
}

/** `set(v)`; `output` is `undefined` on success or `{ ok: false }` for `CounterBoundError`. */
export interface SetOperation {
  readonly op: 'set';
  readonly input: number;
  readonly output?: undefined | BoundFailure;
}

/** `compareAndSet(expected, next) -> boolean`, or `{ ok: false }` when `next` is out of bounds. */
export interface CompareAndSetOperation {
  readonly op: 'compareAndSet';
  readonly input: { readonly expected: number; readonly next: number };
  readonly output?: boolean | BoundFailure;
}

/** Any counter operation with its recorded result. */
export type CounterOperation = GetOperation | AddOperation | SetOperation | CompareAndSetOperation;

/**
 * One operation of a recorded concurrent history. `call` is taken just before the
 * operation is invoked and `ret` just after it settled, on one monotonic clock (ms).
 *
 * An operation that never settled (timed out, connection cut) has `ret: Infinity`: it may
 * or may not have taken effect, at any moment after `call`; its `output` is ignored. An
 * operation known not to have reached the backend (rejected before I/O) should simply not
 * be recorded.
 */
export type CounterHistoryEntry = CounterOperation & {
  /** Who issued it; a client issues one operation at a time. */
  readonly client: string;
  /** Counter name, when the history mixes several counters (each is checked on its own). */
  readonly key?: string;
  readonly call: number;
  readonly ret: number;
};

/** The counter being modelled: its value before the history and its bounds. */
export interface CounterModel {
  /** Value before the first operation. Default 0 (a never-written counter). */
  readonly initial?: number;
  /** Lowest allowed value. Default `Number.MIN_SAFE_INTEGER`. */
  readonly min?: number;
  /** Highest allowed value. Default `Number.MAX_SAFE_INTEGER`. */
  readonly max?: number;
}

/** Operation kinds as small integers, for the checker's hot loop. */
export const OpKind = { Get: 0, Add: 1, Set: 2, CompareAndSet: 3 } as const;
/** One of {@link OpKind}'s values. */
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

/** What is known about an operation's result. */
export const Outcome = {
  /** It never returned: any result the model allows. */
  Unknown: 0,
  /** It returned normally (a value, `true`/`false`, or nothing for `set`). */
  Returned: 1,
  /** It failed with `CounterBoundError`. */
  BoundFailed: 2,
} as const;
/** One of {@link Outcome}'s values. */
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** An operation reduced to numbers. `a`/`b` are the inputs, `out` the numeric output. */
export interface CompiledOperation {
  readonly kind: OpKind;
  readonly outcome: Outcome;
  readonly a: number;
  readonly b: number;
  /** The value returned (`get`, `add`), 1/0 for a compareAndSet's `true`/`false`. */
  readonly out: number;
}

/** The model with its defaults filled in, validated. */
export interface ResolvedCounterModel {
  readonly initial: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Fills in defaults and checks the model.
 * @throws InvalidHistoryError when a bound or the initial value is not a safe integer, or
 * `min > max`, or `initial` is outside the bounds.
 */
export function resolveModel(model: CounterModel = {}): ResolvedCounterModel {
  const initial = model.initial ?? 0;
  const min = model.min ?? Number.MIN_SAFE_INTEGER;
  const max = model.max ?? Number.MAX_SAFE_INTEGER;
  for (const [name, value] of [
    ['initial', initial],
    ['min', min],
    ['max', max],
  ] as const) {
    if (!Number.isSafeInteger(value)) throw new InvalidHistoryError(`model ${name} must be a safe integer`);
  }
  if (min > max) throw new InvalidHistoryError(`model min ${min} is above max ${max}`);
  if (initial < min || initial > max) {
    throw new InvalidHistoryError(`model initial ${initial} is outside [${min}, ${max}]`);
  }
  return { initial, min, max };
}

/**
 * The value after `operation` runs on `state`, or `NaN` when it cannot have returned what
 * it returned from `state`. A bound failure is valid exactly when the write would have left
 * `[min, max]`, and then leaves the value unchanged. `compareAndSet` may report a bound
 * failure whenever `next` is out of bounds (whether or not the comparison would match, so
 * both "validate first" and "compare first" implementations pass).
 */
export function applyOperation(
  state: number,
  operation: CompiledOperation,
  model: ResolvedCounterModel,
): number {
  const { min, max } = model;
  switch (operation.kind) {
    case OpKind.Get:
      return operation.outcome === Outcome.Unknown || operation.out === state ? state : Number.NaN;
    case OpKind.Add: {
      const next = state + operation.a;
      const fits = next >= min && next <= max;
      if (operation.outcome === Outcome.Unknown) return fits ? next : state;
      if (operation.outcome === Outcome.BoundFailed) return fits ? Number.NaN : state;
      return fits && next === operation.out ? next : Number.NaN;
    }
    case OpKind.Set: {
      const fits = operation.a >= min && operation.a <= max;
      if (operation.outcome === Outcome.Unknown) return fits ? operation.a : state;
      if (operation.outcome === Outcome.BoundFailed) return fits ? Number.NaN : state;
      return fits ? operation.a : Number.NaN;
    }
    case OpKind.CompareAndSet: {
      const fits = operation.b >= min && operation.b <= max;
      const matches = state === operation.a;
      if (operation.outcome === Outcome.Unknown) return matches && fits ? operation.b : state;
      if (operation.outcome === Outcome.BoundFailed) return fits ? Number.NaN : state;
      if (operation.out === 1) return matches && fits ? operation.b : Number.NaN;
      return matches ? Number.NaN : state;
    }
  }
}

/**
 * Validates one history entry and reduces it to numbers.
 * @throws InvalidHistoryError naming `index` when times, operation, input or output are malformed.
 */
export function compileEntry(entry: CounterHistoryEntry, index: number): CompiledOperation {
  if (typeof entry !== 'object' || entry === null) throw new InvalidHistoryError('not an object', index);
  if (typeof entry.client !== 'string' || entry.client === '') {
    throw new InvalidHistoryError('client must be a non-empty string', index);
  }
  if (entry.key !== undefined && typeof entry.key !== 'string') {
    throw new InvalidHistoryError('key must be a string when present', index);
  }
  if (!Number.isFinite(entry.call)) throw new InvalidHistoryError('call must be a finite number', index);
  if (!(entry.ret === Number.POSITIVE_INFINITY || (Number.isFinite(entry.ret) && entry.ret >= entry.call))) {
    throw new InvalidHistoryError(
      'ret must be ≥ call, or Infinity for an operation that never returned',
      index,
    );
  }
  const pending = entry.ret === Number.POSITIVE_INFINITY;
  const output: unknown = entry.output;
  const failed = !pending && isBoundFailure(output);
  const outcome = pending ? Outcome.Unknown : failed ? Outcome.BoundFailed : Outcome.Returned;
  const bad = (what: string): never => {
    throw new InvalidHistoryError(`${entry.op}: ${what}`, index);
  };
  switch (entry.op) {
    case 'get':
      if (outcome === Outcome.BoundFailed) bad('a read cannot fail with a bound error');
      if (outcome === Outcome.Returned && !Number.isSafeInteger(output)) bad('output must be a safe integer');
      return {
        kind: OpKind.Get,
        outcome,
        a: 0,
        b: 0,
        out: outcome === Outcome.Returned ? (output as number) : 0,
      };
    case 'add':
      if (!Number.isSafeInteger(entry.input)) bad('input must be a safe integer');
      if (outcome === Outcome.Returned && !Number.isSafeInteger(output)) {
        bad('output must be the new value (a safe integer) or { ok: false }');
      }
      return {
        kind: OpKind.Add,
        outcome,
        a: entry.input,
        b: 0,
        out: outcome === Outcome.Returned ? (output as number) : 0,
      };
    case 'set':
      if (!Number.isSafeInteger(entry.input)) bad('input must be a safe integer');
      if (outcome === Outcome.Returned && output !== undefined)
        bad('output must be undefined or { ok: false }');
      return { kind: OpKind.Set, outcome, a: entry.input, b: 0, out: 0 };
    case 'compareAndSet': {
      const input = entry.input as { expected?: unknown; next?: unknown } | undefined;
      if (!Number.isSafeInteger(input?.expected) || !Number.isSafeInteger(input?.next)) {
        bad('input must be { expected, next } with safe integers');
      }
      if (outcome === Outcome.Returned && typeof output !== 'boolean')
        bad('output must be a boolean or { ok: false }');
      return {
        kind: OpKind.CompareAndSet,
        outcome,
        a: input!.expected as number,
        b: input!.next as number,
        out: output === true ? 1 : 0,
      };
    }
    default:
      throw new InvalidHistoryError(`unknown op ${JSON.stringify((entry as { op: unknown }).op)}`, index);
  }
}

/** Whether `value` is the `{ ok: false }` bound-failure result. */
export function isBoundFailure(value: unknown): value is BoundFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

/** A one-line description such as `c3: add(+1) -> 5 [12.300..13.100 ms]`. */
export function describeOperation(entry: CounterHistoryEntry): string {
  const pending = entry.ret === Number.POSITIVE_INFINITY;
  let call: string;
  switch (entry.op) {
    case 'get':
      call = 'get()';
      break;
    case 'add':
      call = `add(${entry.input >= 0 ? '+' : ''}${entry.input})`;
      break;
    case 'set':
      call = `set(${entry.input})`;
      break;
    case 'compareAndSet':
      call = `compareAndSet(${entry.input.expected}, ${entry.input.next})`;
      break;
  }
  const result = pending
    ? '-> ? (never returned)'
    : isBoundFailure(entry.output)
      ? '-> CounterBoundError'
      : entry.output === undefined
        ? ''
        : `-> ${String(entry.output)}`;
  const window = `[${entry.call.toFixed(3)}..${pending ? '∞' : entry.ret.toFixed(3)} ms]`;
  const key = entry.key === undefined ? '' : ` on ${JSON.stringify(entry.key)}`;
  return [`${entry.client}: ${call}${key}`, result, window].filter(Boolean).join(' ');
}
