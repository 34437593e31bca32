/**
 * Polls `check` every `intervalMs` until it returns a value other than `null`
 * or `false`, and returns that value. After `timeoutMs` it throws an error
 * naming `what` was awaited, so a failed wait reads as a sentence:
 * `timed out after 30 s waiting for 5 Ready nodes`. An error thrown by `check`
 * ends the wait at once (a check throws when waiting longer cannot help, e.g.
 * the process it waits on exited). No vitest here: the lab benches use it too.
 */
export async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => T | null | false | Promise<T | null | false>,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
