/**
 * The last line of defence against leaked servers: a tiny `sh` process that outlives an abrupt
 * death of this Node process (SIGKILL, OOM, a crashed test worker) and then kills every server
 * process group and removes every temp dir we told it about.
 *
 * It reads commands on stdin — `P+<pgid>`, `P-<pgid>`, `D+<dir>`, `D-<dir>` — and acts when
 * stdin reaches end of file, which the kernel guarantees when our process is gone, however it
 * died. It runs in its own process group so a terminal's Ctrl-C does not reach it first.
 * Normal shutdown (stop(), exit hooks) never needs it; it only tracks.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

// Only shell builtins in the loop (read, case, for, kill), so tracking costs no extra processes.
// Dirs are newline-separated so paths with spaces survive.
const SCRIPT = `
set -f
nl='
'
pgids=' '
dirs=''
while IFS= read -r line; do
  arg=\${line#??}
  case $line in
    P+*) pgids="$pgids$arg " ;;
    P-*) keep=' '; for p in $pgids; do [ "$p" = "$arg" ] || keep="$keep$p "; done; pgids=$keep ;;
    D+*) dirs="$dirs$arg$nl" ;;
    D-*) keep=''; IFS=$nl; for d in $dirs; do [ "$d" = "$arg" ] || keep="$keep$d$nl"; done; unset IFS; dirs=$keep ;;
  esac
done
for p in $pgids; do kill -CONT "-$p" 2>/dev/null; kill -KILL "-$p" 2>/dev/null; done
IFS=$nl
for d in $dirs; do rm -rf -- "$d"; done
`;

let watchdog: ChildProcess | undefined;

function ensureWatchdog(): ChildProcess | undefined {
  if (watchdog?.stdin?.writable) return watchdog;
  try {
    const child = spawn('sh', ['-c', SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {
      if (watchdog === child) watchdog = undefined;
    });
    child.stdin?.on('error', () => {});
    // Neither the watchdog nor its pipe may keep the event loop (and so a test worker) alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    watchdog = child;
    return child;
  } catch {
    return undefined;
  }
}

function send(line: string): void {
  if (line.includes('\n')) return;
  ensureWatchdog()?.stdin?.write(`${line}\n`);
}

/** Kill this process group if our process dies without stopping it. */
export function watchProcessGroup(pgid: number): void {
  send(`P+${pgid}`);
}

/** The group ended normally; forget it (so a reused id is never killed). */
export function unwatchProcessGroup(pgid: number): void {
  send(`P-${pgid}`);
}

/** Remove this directory if our process dies without removing it. */
export function watchDirectory(dir: string): void {
  send(`D+${dir}`);
}

export function unwatchDirectory(dir: string): void {
  send(`D-${dir}`);
}

/** Process id of the watchdog, for tests. */
export function watchdogPid(): number | undefined {
  return ensureWatchdog()?.pid;
}
