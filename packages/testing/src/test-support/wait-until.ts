/**
 * Polls `condition` until it holds or `timeoutMs` passes. Only for conditions no event reports,
 * such as "an unrelated process has died" or "a follower caught up".
 */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Runs `fn` until it succeeds or `timeoutMs` passes; rethrows its last error then. */
export async function retryUntil<T>(what: string, fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  let result: T | undefined;
  await waitUntil(
    what,
    async () => {
      result = await fn();
      return true;
    },
    timeoutMs,
    100,
  );
  return result as T;
}
