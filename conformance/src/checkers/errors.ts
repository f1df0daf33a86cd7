/**
 * The one error the checkers throw: their input was malformed. A history that is merely
 * *wrong* (overlapping holds, a stale read) is never an exception; it is a result.
 * @module
 */

/**
 * A history or an online-monitor call was malformed (non-finite time, a release before its
 * acquire, an unknown operation, `exit` without `enter`). Carries the offending index when
 * there is one. This means the test harness is broken, not the backend.
 */
export class InvalidHistoryError extends TypeError {
  /** Stable code, in the style of lockstep's errors. */
  readonly code = 'INVALID_HISTORY';
  override readonly name = 'InvalidHistoryError';
  /** Index of the offending entry in the input, when the problem is one entry. */
  readonly index: number | undefined;

  constructor(message: string, index?: number) {
    super(index === undefined ? message : `entry ${index}: ${message}`);
    this.index = index;
  }
}
