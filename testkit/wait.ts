/** Waiting on a condition with a deadline: the one way tests, bench and chaos wait (never a bare sleep for synchronisation). */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Polls until `fn` returns a value other than undefined, or fails after `timeoutMs` with the last error. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition', intervalMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= until) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Polls `probe` until it returns true; false after `timeoutMs` (for callers that report rather than throw). */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  return eventually(async () => ((await probe()) ? true : undefined), timeoutMs, 'probe', intervalMs).catch(() => false);
}
