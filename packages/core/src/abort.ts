/**
 * Small helpers for AbortSignal-driven waiting.
 * @module
 */

/**
 * Resolves after `ms`, or as soon as `signal` aborts (never rejects). The timer keeps the
 * process alive: a caller waiting for a lock is work in progress, not idle time.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Rejects with `signal.reason` when it aborts. Use with `Promise.race`; call the returned
 * `dispose` afterwards so the listener does not leak.
 */
export function abortPromise(signal: AbortSignal): { promise: Promise<never>; dispose: () => void } {
  let dispose = () => {};
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    dispose = () => signal.removeEventListener('abort', onAbort);
  });
  promise.catch(() => {});
  return { promise, dispose };
}

/**
 * An AbortSignal that aborts when any of `signals` does, with that signal's reason, and a
 * `dispose` that detaches it from them. Use it instead of `AbortSignal.any` when a source
 * lives long (a coordinator's close signal): on Node 20 every `AbortSignal.any` result stays
 * referenced from its sources (about 70 bytes per call, never collected), so a loop of
 * acquires grows the heap without bound.
 */
export function linkSignals(signals: readonly AbortSignal[]): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const already = signals.find((s) => s.aborted);
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, dispose: () => {} };
  }
  const listeners = signals.map((source) => {
    const onAbort = () => controller.abort(source.reason);
    source.addEventListener('abort', onAbort, { once: true });
    return () => source.removeEventListener('abort', onAbort);
  });
  const dispose = () => {
    for (const remove of listeners) remove();
  };
  return { signal: controller.signal, dispose };
}
