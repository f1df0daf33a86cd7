/**
 * A linearizability checker for counter histories.
 *
 * The search is Wing & Gong's, with Lowe's memoisation as used by porcupine and Knossos:
 * walk the history's call/return events in time order; at each point try to linearize one
 * of the operations already called (apply it to the model); when a return is reached whose
 * operation was not linearized, backtrack. A pair (set of linearized operations, counter
 * value) seen once is never explored again, which turns the exponential search into one
 * that is close to linear for real counter histories: increments return their new value,
 * so very few orders are consistent and almost every wrong branch dies at once.
 *
 * A few counter-specific reductions on top (see `searchLinearization`) keep wrong
 * branches short: reads are placed greedily, a branch dies as soon as some open operation
 * can no longer see the value it returned, and never-returned operations are placed only
 * where they make a difference.
 *
 * History entries naming different counters (`key`) are checked independently
 * (P-compositionality: a history is linearizable iff each object's sub-history is).
 * @module
 */
import {
  applyOperation,
  type CompiledOperation,
  type CounterHistoryEntry,
  type CounterModel,
  compileEntry,
  describeOperation,
  OpKind,
  Outcome,
  type ResolvedCounterModel,
  resolveModel,
} from './counter-model.js';

/** Options of {@link checkCounterLinearizability}: the model plus a search budget. */
export interface LinearizabilityOptions extends CounterModel {
  /** Give up (result `unknown`) after this many search steps in all. Default 5 000 000. */
  readonly maxSteps?: number;
  /** Give up (result `unknown`) after this long, in ms. Default 10 000. */
  readonly timeoutMs?: number;
}

/** Why a check was not linearizable: the deepest point the search reached. */
export interface LinearizabilityExplanation {
  /** The counter (`key`) whose sub-history failed; `undefined` when entries have no key. */
  readonly key: string | undefined;
  /** The longest order of operations the search could justify, in linearization order. */
  readonly linearizedPrefix: readonly CounterHistoryEntry[];
  /** The counter value after that prefix. */
  readonly valueAfterPrefix: number;
  /**
   * The operation that returned before it could be placed: from the prefix's state, no
   * order of the operations open at that moment explains its result.
   */
  readonly unplaceable: CounterHistoryEntry;
  /** The operations that were open (called, not yet linearized) at that moment, `unplaceable` included. */
  readonly open: readonly CounterHistoryEntry[];
  /** The same in one paragraph, for a test failure or a report footnote. */
  readonly message: string;
}

/** Verdict of {@link checkCounterLinearizability}. */
export interface LinearizabilityResult {
  /**
   * `linearizable`: an order exists. `violation`: none exists (see `explanation`).
   * `unknown`: the step or time budget ran out first (see `reason`).
   */
  readonly result: 'linearizable' | 'violation' | 'unknown';
  /** `true` only for `linearizable`. */
  readonly ok: boolean;
  /** Operations checked (never-returned reads are dropped first: they cannot matter). */
  readonly operations: number;
  /** Number of counters (`key`s) checked separately. */
  readonly partitions: number;
  /** Search steps taken. */
  readonly steps: number;
  /** Wall time of the check, ms. */
  readonly elapsedMs: number;
  /** One valid order of all operations, per counter in turn, when `linearizable`. */
  readonly linearization?: readonly CounterHistoryEntry[];
  /** When `violation`: the deepest point reached and the operation that could not be placed. */
  readonly explanation?: LinearizabilityExplanation;
  /** When `unknown`: which budget ran out. */
  readonly reason?: string;
}

/**
 * Checks that a concurrent history of counter operations is linearizable: that there is
 * one total order of the operations, consistent with real time (an operation that returned
 * before another was called comes first), in which every result is what a single atomic
 * counter with the model's bounds would have returned.
 *
 * Time ties count as overlap: an operation that returned at the same timestamp another
 * was called may be ordered either way. Never-returned operations (`ret: Infinity`) may be
 * placed anywhere after their call, or nowhere (placing them last is the same as never).
 *
 * Sound and complete within its budget: `violation` is a proof (no order exists), and
 * `linearizable` comes with an order. The problem is NP-complete in general; for counters
 * it is usually easy because results pin the order. Measured on a shared 2-core machine:
 * 3 000 operations from 16 clients (increments and reads, a few timeouts) ≈ 15 ms; an
 * adversarial mix of sets, compareAndSets and ±3 adds over a range of 18 values ≈ 120 ms;
 * a violation 2 000 operations deep ≈ 15–40 ms. Many concurrent writes of arbitrary values
 * plus many timeouts can still make it exponential: the budget then gives `unknown`. The
 * memo costs roughly 100 bytes per explored configuration; the default budget (5 M steps,
 * about a second) keeps it near 50 MB.
 * @throws InvalidHistoryError when an entry or the model is malformed.
 */
export function checkCounterLinearizability(
  history: readonly CounterHistoryEntry[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const started = performance.now();
  const model = resolveModel(options);
  const maxSteps = options.maxSteps ?? 5_000_000;
  const deadline = started + (options.timeoutMs ?? 10_000);

  const partitions = new Map<
    string | undefined,
    Array<{ entry: CounterHistoryEntry; op: CompiledOperation }>
  >();
  let operations = 0;
  history.forEach((entry, index) => {
    const op = compileEntry(entry, index);
    // A read that never returned has no effect and no result to explain.
    if (op.kind === OpKind.Get && op.outcome === Outcome.Unknown) return;
    operations++;
    const ops = partitions.get(entry.key) ?? [];
    ops.push({ entry, op });
    partitions.set(entry.key, ops);
  });

  let steps = 0;
  const linearization: CounterHistoryEntry[] = [];
  let unknownReason: string | undefined;
  for (const [key, ops] of partitions) {
    const outcome = searchLinearization(ops, model, { maxSteps: maxSteps - steps, deadline });
    steps += outcome.steps;
    const base = { operations, partitions: partitions.size, steps };
    if (outcome.kind === 'violation') {
      return {
        result: 'violation',
        ok: false,
        ...base,
        elapsedMs: performance.now() - started,
        explanation: explain(key, outcome.deepest, ops),
      };
    }
    if (outcome.kind === 'unknown') {
      // A later counter may still prove a violation; an unproven one stays unknown.
      unknownReason ??= outcome.reason;
      if (steps >= maxSteps || performance.now() >= deadline) break;
      continue;
    }
    for (const index of outcome.order) linearization.push(ops[index]!.entry);
  }
  const elapsedMs = performance.now() - started;
  const base = { operations, partitions: partitions.size, steps, elapsedMs };
  if (unknownReason !== undefined) return { result: 'unknown', ok: false, ...base, reason: unknownReason };
  return { result: 'linearizable', ok: true, ...base, linearization };
}

/** The deepest point of a failed search, by operation index within the partition. */
interface DeepestPoint {
  readonly prefix: number[];
  readonly value: number;
  readonly blocked: number;
  readonly open: number[];
}

type SearchOutcome =
  | { kind: 'linearizable'; steps: number; order: number[] }
  | { kind: 'violation'; steps: number; deepest: DeepestPoint }
  | { kind: 'unknown'; steps: number; reason: string };

const NIL = -1;
/** Marks "the current configuration is dead" in place of a list node. */
const DEAD = -2;

/**
 * The memoised Wing–Gong search over one counter's operations. Events live in a doubly
 * linked list (arrays of indices) so that linearizing an operation removes its call and
 * return in O(1) and backtracking puts them back in O(1), in LIFO order.
 *
 * On top of Lowe's cache of (linearized set, value), four reductions, each of which only
 * skips orders that are redundant with one still explored (the randomised tests check the
 * verdicts against a brute-force oracle):
 * - a *pure observer* (a read, a bound failure, a compareAndSet that returned false, an
 *   add of 0) never changes the value. If one is open and consistent now, placing it now
 *   is safe: any valid completion stays valid with it moved to the front (its real-time
 *   predecessors are placed; moving it earlier only loosens its other constraints). So it
 *   is placed without branching, and if that fails the configuration is dead. Without
 *   this, k concurrent reads multiply the search by up to 2^k;
 * - a configuration where an open operation can no longer reach the value its result
 *   needs is dead at once (see `strandedOperation`);
 * - never-returned operations are tried after returned ones, never where they would
 *   change nothing, never just before a returned operation they commute with, and
 *   identical ones only in call order;
 * - the search ends as soon as only never-returned operations are left: they go last.
 */
function searchLinearization(
  ops: ReadonlyArray<{ entry: CounterHistoryEntry; op: CompiledOperation }>,
  model: ResolvedCounterModel,
  budget: { maxSteps: number; deadline: number },
): SearchOutcome {
  const n = ops.length;
  const events = buildEvents(ops);
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  const match = new Int32Array(2 * n);
  const opOf = new Int32Array(2 * n);
  const isCall = new Uint8Array(2 * n);
  const callNode = new Int32Array(n);
  let previousNode = head;
  events.forEach((event, node) => {
    opOf[node] = event.op;
    isCall[node] = event.call ? 1 : 0;
    if (event.call) callNode[event.op] = node;
    else match[callNode[event.op]!] = node;
    next[previousNode] = node;
    prev[node] = previousNode;
    previousNode = node;
  });
  next[previousNode] = NIL;

  const lift = (call: number) => {
    const ret = match[call]!;
    next[prev[call]!] = next[call]!;
    if (next[call] !== NIL) prev[next[call]!] = prev[call]!;
    next[prev[ret]!] = next[ret]!;
    if (next[ret] !== NIL) prev[next[ret]!] = prev[ret]!;
  };
  const unlift = (call: number) => {
    const ret = match[call]!;
    next[prev[ret]!] = ret;
    if (next[ret] !== NIL) prev[next[ret]!] = ret;
    next[prev[call]!] = call;
    if (next[call] !== NIL) prev[next[call]!] = call;
  };

  const compiled = ops.map(({ op }) => op);
  const observer = Uint8Array.from(compiled, (op) => (isPureObserver(op) ? 1 : 0));
  const pending = Uint8Array.from(compiled, (op) => (op.outcome === Outcome.Unknown ? 1 : 0));
  const twin = identicalPendingPredecessors(ops);
  const linearized = new LinearizedSet(...bitPositions(ops));
  const flip = (op: number) => linearized.flip(op);
  const isLinearized = (op: number) => linearized.has(op);

  const stackCall = new Int32Array(n);
  const stackValue = new Float64Array(n);
  const stackForced = new Uint8Array(n);
  let depth = 0;
  let value = model.initial;
  let steps = 0;
  let deepest: DeepestPoint | undefined;
  const push = (call: number, after: number, forced: boolean) => {
    stackCall[depth] = call;
    stackValue[depth] = value;
    stackForced[depth] = forced ? 1 : 0;
    depth++;
    value = after;
    lift(call);
    placedUp += movesUp[opOf[call]!]!;
    placedDown += movesDown[opOf[call]!]!;
  };
  const overBudget = (): SearchOutcome | undefined => {
    steps++;
    if (steps > budget.maxSteps)
      return { kind: 'unknown', steps, reason: `step budget of ${budget.maxSteps} exhausted` };
    if ((steps & 4095) === 0 && performance.now() > budget.deadline) {
      return { kind: 'unknown', steps, reason: 'time budget exhausted' };
    }
    return undefined;
  };

  // Lowe's just-in-time idea, for never-returned operations: an order in which one (P) is
  // directly followed by a returned operation Q that could equally have gone first, with
  // the same resulting value, is redundant with the order "Q, then P". Skipping it makes the
  // search place P only where it enables something, instead of at every step. Because this
  // depends on the last placed operation, the cache key then includes it and the value
  // before it, keeping "explored from this key" a function of the key alone.
  const commutesBack = (op: number, after: number): boolean => {
    if (pending[op] || depth === 0 || stackForced[depth - 1]) return false;
    const previous = opOf[stackCall[depth - 1]!]!;
    if (!pending[previous]) return false;
    const before = stackValue[depth - 1]!;
    const opFirst = applyOperation(before, compiled[op]!, model);
    return !Number.isNaN(opFirst) && applyOperation(opFirst, compiled[previous]!, model) === after;
  };

  const pinned = Float64Array.from(compiled, pinnedValueBefore);
  const movesUp = Uint8Array.from(compiled, (op) => (canMove(op, 1) ? 1 : 0));
  const movesDown = Uint8Array.from(compiled, (op) => (canMove(op, -1) ? 1 : 0));
  // An open operation whose result pins the value it needs (a read, an add's new value, a
  // successful compareAndSet) must be placed before it returns, so only operations called
  // before its return can bring the value there. Every placed operation was called before
  // the first unplaced return, so "unplaced movers called before Q returns" is a prefix
  // count minus the movers placed so far. When that is zero in the needed direction, the
  // configuration is dead. In an increments-only history this cuts every wrong branch at
  // its first step instead of one operation latency later.
  const upBeforeReturn = new Int32Array(n);
  const downBeforeReturn = new Int32Array(n);
  {
    let up = 0;
    let down = 0;
    for (let node = 0; node < 2 * n; node++) {
      const op = opOf[node]!;
      if (isCall[node]) {
        up += movesUp[op]!;
        down += movesDown[op]!;
      } else {
        // An operation cannot help itself: its effect comes after the value it needs.
        upBeforeReturn[op] = up - movesUp[op]!;
        downBeforeReturn[op] = down - movesDown[op]!;
      }
    }
  }
  let placedUp = 0;
  let placedDown = 0;
  /** The first open operation that can no longer get the value it needs, or NIL. */
  const strandedOperation = (from: number, until: number): number => {
    for (let candidate = from; candidate !== until; candidate = next[candidate]!) {
      if (!isCall[candidate]) continue;
      const op = opOf[candidate]!;
      const needed = pinned[op]!;
      if (needed < value && downBeforeReturn[op]! - placedDown <= 0) return op;
      if (needed > value && upBeforeReturn[op]! - placedUp <= 0) return op;
    }
    return NIL;
  };
  /** Keeps the first dead end of greatest depth, for the explanation. */
  const recordDeepest = (blocked: number, firstReturn: number) => {
    if (deepest !== undefined && depth <= deepest.prefix.length) return;
    deepest = {
      prefix: Array.from(stackCall.subarray(0, depth), (call) => opOf[call]!),
      value,
      blocked,
      open: openCalls(next, isCall, opOf, head, firstReturn),
    };
  };

  configurations: for (;;) {
    // Returns come in time order and never-returned ones last, so once the first return
    // left is a never-returned operation's, everything that did return is placed: the rest
    // can go last, where any effect (or none) is consistent.
    let firstReturn = next[head]!;
    while (firstReturn !== NIL && isCall[firstReturn]) firstReturn = next[firstReturn]!;
    if (firstReturn === NIL || pending[opOf[firstReturn]!]) {
      const order = Array.from(stackCall.subarray(0, depth), (call) => opOf[call]!);
      for (let rest = next[head]!; rest !== NIL; rest = next[rest]!)
        if (isCall[rest]) order.push(opOf[rest]!);
      return { kind: 'linearizable', steps, order };
    }
    // Dead already if an open operation can no longer get the value it needs.
    let node = next[head]!;
    const stranded = strandedOperation(node, firstReturn);
    if (stranded !== NIL) {
      node = DEAD;
      recordDeepest(stranded, firstReturn);
    }
    // A new configuration: place an applicable pure observer without branching, if any.
    for (
      let candidate = node;
      node !== DEAD && candidate !== NIL && isCall[candidate];
      candidate = next[candidate]!
    ) {
      const op = opOf[candidate]!;
      if (!observer[op] || Number.isNaN(applyOperation(value, compiled[op]!, model))) continue;
      const stop = overBudget();
      if (stop) return stop;
      flip(op);
      if (linearized.remember(value, -1, -1)) {
        push(candidate, value, true);
        continue configurations;
      }
      flip(op);
      node = DEAD;
      break;
    }
    // Otherwise try each open state-changing operation in turn: first those that returned,
    // then (second pass) those that never did. Trying never-returned operations last makes
    // the search place them as late as possible, which is where they usually belong (or
    // nowhere); trying them first sends it down a long wrong branch at every step.
    let pass = 1;
    for (;;) {
      if (node !== DEAD && isCall[node]) {
        const stop = overBudget();
        if (stop) return stop;
        const op = opOf[node]!;
        const inThisPass = pass === 1 ? !pending[op] : pending[op] === 1;
        // Identical never-returned operations are interchangeable: only try them in call order.
        if (inThisPass && !observer[op] && (twin[op] === NIL || isLinearized(twin[op]!))) {
          const after = applyOperation(value, compiled[op]!, model);
          // A never-returned operation that would change nothing here is never needed
          // here: the same order with it moved to the end is just as valid.
          if (!Number.isNaN(after) && !(pending[op] && after === value) && !commutesBack(op, after)) {
            flip(op);
            if (pending[op] ? linearized.remember(after, op, value) : linearized.remember(after, -1, -1)) {
              push(node, after, false);
              continue configurations;
            }
            flip(op);
          }
        }
        node = next[node]!;
        continue;
      }
      if (node !== DEAD && pass === 1) {
        pass = 2;
        node = next[head]!;
        continue;
      }
      // A return whose operation is not placed (or a dead configuration): backtrack.
      if (node !== DEAD) recordDeepest(opOf[node]!, node);
      let call: number;
      let forced: boolean;
      do {
        // (A dead end was always recorded before: every dead configuration met a return,
        // a stranded operation, or a cached configuration that did.)
        if (depth === 0) return { kind: 'violation', steps, deepest: deepest! };
        depth--;
        call = stackCall[depth]!;
        forced = stackForced[depth] === 1;
        value = stackValue[depth]!;
        flip(opOf[call]!);
        unlift(call);
        placedUp -= movesUp[opOf[call]!]!;
        placedDown -= movesDown[opOf[call]!]!;
        // A forced observer was the only child of its configuration, so that one is dead too.
      } while (forced);
      node = next[call]!;
      pass = pending[opOf[call]!] ? 2 : 1;
    }
  }
}

/** The value an operation needs right before it, when its result pins it; else NaN. */
function pinnedValueBefore(op: CompiledOperation): number {
  if (op.outcome !== Outcome.Returned) return Number.NaN;
  if (op.kind === OpKind.Get) return op.out;
  if (op.kind === OpKind.Add) return op.out - op.a;
  if (op.kind === OpKind.CompareAndSet && op.out === 1) return op.a;
  return Number.NaN;
}

/** Whether an operation can ever move the value up (`direction` 1) or down (-1). */
function canMove(op: CompiledOperation, direction: 1 | -1): boolean {
  if (op.outcome === Outcome.BoundFailed) return false;
  switch (op.kind) {
    case OpKind.Get:
      return false;
    case OpKind.Add:
      return Math.sign(op.a) === direction;
    case OpKind.Set:
      return true;
    case OpKind.CompareAndSet:
      return (op.outcome === Outcome.Unknown || op.out === 1) && Math.sign(op.b - op.a) === direction;
  }
}

/** Whether an operation, whenever it is consistent, leaves the value unchanged. */
function isPureObserver(op: CompiledOperation): boolean {
  if (op.outcome === Outcome.BoundFailed) return true;
  if (op.outcome !== Outcome.Returned) return false;
  return (
    op.kind === OpKind.Get ||
    (op.kind === OpKind.CompareAndSet && op.out === 0) ||
    (op.kind === OpKind.Add && op.a === 0)
  );
}

/** Bit positions for {@link LinearizedSet}: returned operations by call time, then never-returned ones. */
function bitPositions(
  ops: ReadonlyArray<{ entry: CounterHistoryEntry; op: CompiledOperation }>,
): [Int32Array, number] {
  const isPending = (index: number) => ops[index]!.op.outcome === Outcome.Unknown;
  const order = ops
    .map((_, index) => index)
    .sort(
      (a, b) =>
        Number(isPending(a)) - Number(isPending(b)) || ops[a]!.entry.call - ops[b]!.entry.call || a - b,
    );
  const position = new Int32Array(ops.length);
  order.forEach((op, bit) => {
    position[op] = bit;
  });
  return [position, order.filter((index) => !isPending(index)).length];
}

/** Call and return events in time order; at equal times calls first (ties overlap). */
function buildEvents(
  ops: ReadonlyArray<{ entry: CounterHistoryEntry }>,
): Array<{ time: number; call: boolean; op: number }> {
  const events: Array<{ time: number; call: boolean; op: number }> = [];
  ops.forEach(({ entry }, op) => {
    events.push({ time: entry.call, call: true, op }, { time: entry.ret, call: false, op });
  });
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.call !== b.call) return a.call ? -1 : 1;
    return a.op - b.op;
  });
  return events;
}

/**
 * For each never-returned operation, the previous never-returned operation (by call time)
 * with the same kind and input, else NIL. Two such operations differ only by call time, so
 * any order using the later one alone can use the earlier one instead; requiring call order
 * among them cuts k identical timeouts from 2^k subsets to k + 1.
 */
function identicalPendingPredecessors(
  ops: ReadonlyArray<{ entry: CounterHistoryEntry; op: CompiledOperation }>,
): Int32Array {
  const twin = new Int32Array(ops.length).fill(NIL);
  const lastBySignature = new Map<string, number>();
  const pending = ops
    .map((item, index) => ({ ...item, index }))
    .filter(({ op }) => op.outcome === Outcome.Unknown)
    .sort((a, b) => a.entry.call - b.entry.call || a.index - b.index);
  for (const { op, index } of pending) {
    const signature = `${op.kind}:${op.a}:${op.b}`;
    const previous = lastBySignature.get(signature);
    if (previous !== undefined) twin[index] = previous;
    lastBySignature.set(signature, index);
  }
  return twin;
}

function openCalls(
  next: Int32Array,
  isCall: Uint8Array,
  opOf: Int32Array,
  head: number,
  until: number,
): number[] {
  const open: number[] = [];
  for (let node = next[head]!; node !== NIL && node !== until; node = next[node]!) {
    if (isCall[node]) open.push(opOf[node]!);
  }
  return open;
}

/**
 * The set of linearized operations, and the memo of (set, value, context) triples already
 * explored.
 *
 * Memory is what limits a search like this, so a remembered set is stored compactly and
 * exactly. Operations get bit positions in call order, never-returned ones last. Every
 * operation that returned before the first unplaced return is placed, and none called
 * after it is, so in call order the set is all ones, then a narrow band about as wide as
 * the concurrency, then zeros, then the never-returned operations' bits. Only the band and
 * that tail are stored, with the band's bounds. Lookups go by a hash of a 64-bit Zobrist
 * hash of the set (updated in O(1) per flip) and the rest of the key, and everything
 * stored is compared on a hit, so a hash collision can never prune a live branch.
 */
/** Words of a stored configuration's header: band start, band end, context op, value, context value. */
const HEADER = 7;

class LinearizedSet {
  readonly #bits: Uint32Array;
  readonly #position: Int32Array;
  /** First word holding a never-returned operation's bit. */
  readonly #tailWord: number;
  readonly #zobristLow: Uint32Array;
  readonly #zobristHigh: Uint32Array;
  /** 31-bit hash → offset in `#pool` of the newest entry with that hash. */
  readonly #seen = new Map<number, number>();
  /**
   * Stored configurations, back to back: [offset of the previous entry with the same hash
   * + 1 (0 for none), word count, band start, band end, context operation + 1, value (2
   * words), context value (2 words), ...words]. Small-integer keys and one growing array,
   * instead of a string and a typed array per entry, keep the memo near 100 bytes per
   * configuration.
   */
  #pool = new Uint32Array(4096);
  #poolUsed = 0;
  readonly #float = new Float64Array(1);
  readonly #floatWords = new Uint32Array(this.#float.buffer);
  #hashLow = 0;
  #hashHigh = 0;

  constructor(position: Int32Array, firstPendingPosition: number) {
    const n = position.length;
    this.#position = position;
    this.#bits = new Uint32Array(Math.ceil(n / 32) || 1);
    this.#tailWord = firstPendingPosition >>> 5;
    this.#zobristLow = new Uint32Array(n);
    this.#zobristHigh = new Uint32Array(n);
    // A fixed seed keeps runs reproducible; the hash only has to spread, not be secret.
    let seed = 0x9e3779b9;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (t ^ (t >>> 14)) >>> 0;
    };
    for (let i = 0; i < n; i++) {
      this.#zobristLow[i] = random();
      this.#zobristHigh[i] = random();
    }
  }

  /** Adds or removes `op`. */
  flip(op: number): void {
    const bit = this.#position[op]!;
    this.#bits[bit >>> 5]! ^= 1 << (bit & 31);
    this.#hashLow = (this.#hashLow ^ this.#zobristLow[bit]!) >>> 0;
    this.#hashHigh = (this.#hashHigh ^ this.#zobristHigh[bit]!) >>> 0;
  }

  /** Whether `op` is in the set. */
  has(op: number): boolean {
    const bit = this.#position[op]!;
    return (this.#bits[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /**
   * Records (current set, value, context); `false` when it was already there. The context
   * is the never-returned operation placed last and the value before it (`-1` when none).
   */
  remember(value: number, contextOp: number, contextValue: number): boolean {
    const bits = this.#bits;
    let low = 0;
    while (low < bits.length - 1 && bits[low] === 0xffffffff) low++;
    let high = this.#tailWord - 1;
    while (high > low && bits[high] === 0) high--;
    const band = bits.subarray(low, Math.max(low, high) + 1);
    const tail = bits.subarray(Math.min(this.#tailWord, bits.length));
    // The header fields, as they are stored and compared.
    const header = this.#header;
    header[0] = low;
    header[1] = high + 1;
    header[2] = contextOp + 1;
    this.#float[0] = value;
    header[3] = this.#floatWords[0]!;
    header[4] = this.#floatWords[1]!;
    this.#float[0] = contextValue;
    header[5] = this.#floatWords[0]!;
    header[6] = this.#floatWords[1]!;
    let hash = this.#hashLow ^ Math.imul(this.#hashHigh, 0x9e3779b1);
    for (const word of header) hash = Math.imul(hash ^ word, 0x85ebca6b) ^ (hash >>> 13);
    hash &= 0x3fffffff;

    const newest = this.#seen.get(hash);
    for (let at = newest; at !== undefined; at = this.#pool[at]! === 0 ? undefined : this.#pool[at]! - 1) {
      if (this.#matches(at, header, band, tail)) return false;
    }
    const size = 2 + HEADER + band.length + tail.length;
    if (this.#poolUsed + size > this.#pool.length) {
      const grown = new Uint32Array(Math.max(this.#pool.length * 2, this.#poolUsed + size));
      grown.set(this.#pool.subarray(0, this.#poolUsed));
      this.#pool = grown;
    }
    const at = this.#poolUsed;
    const pool = this.#pool;
    pool[at] = newest === undefined ? 0 : newest + 1;
    pool[at + 1] = band.length + tail.length;
    pool.set(header, at + 2);
    pool.set(band, at + 2 + HEADER);
    pool.set(tail, at + 2 + HEADER + band.length);
    this.#poolUsed += size;
    this.#seen.set(hash, at);
    return true;
  }

  readonly #header = new Uint32Array(HEADER);

  #matches(at: number, header: Uint32Array, band: Uint32Array, tail: Uint32Array): boolean {
    const pool = this.#pool;
    if (pool[at + 1] !== band.length + tail.length) return false;
    for (let i = 0; i < HEADER; i++) if (pool[at + 2 + i] !== header[i]) return false;
    const start = at + 2 + HEADER;
    for (let i = 0; i < band.length; i++) if (pool[start + i] !== band[i]) return false;
    for (let i = 0; i < tail.length; i++) if (pool[start + band.length + i] !== tail[i]) return false;
    return true;
  }
}

function explain(
  key: string | undefined,
  deepest: DeepestPoint,
  ops: ReadonlyArray<{ entry: CounterHistoryEntry }>,
): LinearizabilityExplanation {
  const entry = (index: number) => ops[index]!.entry;
  const linearizedPrefix = deepest.prefix.map(entry);
  const unplaceable = entry(deepest.blocked);
  const open = deepest.open.map(entry);
  const others = open.filter((candidate) => candidate !== unplaceable);
  const counter = key === undefined ? 'the counter' : `counter ${JSON.stringify(key)}`;
  const message =
    `Not linearizable: after ${linearizedPrefix.length} operation(s) placed in a valid order ` +
    `(${counter} = ${deepest.value}), ${describeOperation(unplaceable)} returned but cannot be placed: ` +
    (others.length === 0
      ? 'no operation was concurrent with it, so its result must follow from that value.'
      : `no order of it and the ${others.length} concurrent operation(s) explains its result: ` +
        others.map(describeOperation).join('; ') +
        '.');
  return { key, linearizedPrefix, valueAfterPrefix: deepest.value, unplaceable, open, message };
}
