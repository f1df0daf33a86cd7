/**
 * Change notifications for lock files: one `fs.watch` per directory per process (inotify on
 * Linux), however many waiters and coordinators there are, dispatched by file name. Every
 * write to a lock file (a release, a grant, a new or refreshed ticket) fires it.
 *
 * Notifications only make waiters look sooner: a watch that cannot be opened (inotify limits)
 * or that fails leaves them to their bounded re-checks, never stuck.
 * @module
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

type Listener = () => void;

interface WatchedDirectory {
  watcher: FSWatcher | undefined;
  readonly files: Map<string, Set<Listener>>;
}

const directories = new Map<string, WatchedDirectory>();

/** Calls `onChange` after each change of the file at `path` until the returned function is called. */
export function watchFile(path: string, onChange: Listener): () => void {
  const dir = dirname(path);
  const file = basename(path);
  let watched = directories.get(dir);
  if (!watched) {
    watched = { watcher: undefined, files: new Map() };
    directories.set(dir, watched);
  }
  if (!watched.watcher) open(dir, watched);
  let listeners = watched.files.get(file);
  if (!listeners) {
    listeners = new Set();
    watched.files.set(file, listeners);
  }
  listeners.add(onChange);
  const entry = watched;
  return () => {
    const current = entry.files.get(file);
    if (!current?.delete(onChange) || current.size > 0) return;
    entry.files.delete(file);
    if (entry.files.size > 0) return;
    entry.watcher?.close();
    entry.watcher = undefined;
    if (directories.get(dir) === entry) directories.delete(dir);
  };
}

function open(dir: string, watched: WatchedDirectory): void {
  const notifyAll = () => {
    for (const listeners of watched.files.values()) for (const listener of listeners) listener();
  };
  try {
    const watcher = watch(dir, { persistent: false }, (_event, file) => {
      if (file === null) return notifyAll();
      for (const listener of watched.files.get(file.toString()) ?? []) listener();
    });
    watcher.on('error', () => {
      watcher.close();
      // Reopened by the next waiter of this directory; until then waiters re-check on their own.
      if (watched.watcher === watcher) watched.watcher = undefined;
      notifyAll();
    });
    watched.watcher = watcher;
  } catch {
    // No watch available: waiters re-check on their own schedule.
  }
}
