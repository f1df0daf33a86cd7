/**
 * Unknown option names are rejected, not ignored: `{ prefx: 'a' }` or
 * `?connectTimeoutMS=100` silently falls back to a default the user did not choose, and
 * nothing says so until production behaves differently. The error names the closest known
 * option, since nearly every unknown name is a typo or a case slip of a real one.
 * @module
 */
import { InvalidArgumentError } from './errors.js';

/**
 * Throws `InvalidArgumentError` for the first own key of `options` that is not in `known`
 * (keys whose value is `undefined` count too: a misspelt key is a mistake whatever its value).
 * @param where what the options belong to, for the message (`"redis:// options"`).
 */
export function rejectUnknownOptions(options: object, known: readonly string[], where: string): void {
  for (const key in options) {
    if (!Object.hasOwn(options, key) || known.includes(key)) continue;
    const closest = closestName(key, known);
    const hint = closest === undefined ? '' : ` — did you mean "${closest}"?`;
    throw new InvalidArgumentError(key, `is not one of the ${where}${hint} (known: ${known.join(', ')})`);
  }
}

/**
 * The known name nearest to `name` by edit distance, ignoring case, when it is near enough
 * to be a plausible slip (at most a third of the name's length, or 2 edits for short names).
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.ceil(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, two rows at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The option names of `T`, checked by the compiler both ways: a name that is not a key of
 * `T` and a key of `T` that is missing are type errors, so the list a run-time check uses
 * cannot drift from the documented interface.
 *
 * ```ts
 * const NAMES = optionNames<MyOptions>()(['prefix', 'timeoutMs']);
 * ```
 */
export function optionNames<T extends object>() {
  return <const L extends readonly (keyof T & string)[]>(
    names: L &
      ([Exclude<keyof T, L[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, L[number]> }),
  ): readonly string[] => names;
}
