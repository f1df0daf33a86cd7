/**
 * Exit codes of `lockstep`, from the BSD `sysexits` range so they never collide with what a
 * wrapped command commonly returns. `run` otherwise exits with the command's own code (or
 * 128 + the signal number when a signal ended it, as shells report it).
 * @module
 */

/** Bad arguments or options (`EX_USAGE`). */
export const EXIT_USAGE = 64;
/** The backend could not be reached or refused us (`EX_UNAVAILABLE`). */
export const EXIT_UNAVAILABLE = 69;
/** The lock was held and `--wait` ran out — with `--wait 0`, the cron-style "someone else runs it" (`EX_TEMPFAIL`). */
export const EXIT_BUSY = 75;
/** The lock was lost while the command ran; the command was stopped (`EX_PROTOCOL`: the guarantee broke). */
export const EXIT_LOST = 76;
/** The command could not be started (`EX_OSERR`). */
export const EXIT_SPAWN_FAILED = 71;
