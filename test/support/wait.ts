const POLL_MS = 10;

/**
 * Polls `check` until it holds or `boundMs` passes: a bound on a condition, never a
 * sleep standing in for one. Returns how long it took, or undefined when it never held.
 */
export async function within(boundMs: number, check: () => Promise<boolean>): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start <= boundMs) {
    if (await check()) return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return undefined;
}
