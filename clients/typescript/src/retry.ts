/**
 * A fetch wrapper that retries idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) answered 429 or 503, or that
 * failed on the network, waiting as `Retry-After` says. Bounded in attempts and in the longest wait, so a caller is
 * never held longer than it agreed to; anything else is returned as it came.
 */

import { parseRetryAfter } from "./errors.js";

export interface RetryPolicy {
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** Wait when the answer names none, in ms (default 500, doubled per attempt). */
  baseDelayMs?: number;
  /** The longest single wait in ms; a Retry-After above it is not waited for (default 10 000). */
  maxDelayMs?: number;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const RETRYABLE_STATUS = new Set([429, 503]);

export type FetchLike = (input: Request) => Promise<Response>;

function sleep(ms: number, signal: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

export function retrying(inner: FetchLike, policy: RetryPolicy = {}): FetchLike {
  const retries = policy.retries ?? 2;
  const base = policy.baseDelayMs ?? 500;
  const cap = policy.maxDelayMs ?? 10_000;
  return async (request: Request): Promise<Response> => {
    if (!IDEMPOTENT.has(request.method.toUpperCase())) return inner(request);
    for (let attempt = 0; ; attempt++) {
      let response: Response | undefined;
      try {
        response = await inner(request.clone());
      } catch (error) {
        if (attempt >= retries || request.signal.aborted) throw error;
      }
      if (response !== undefined && !RETRYABLE_STATUS.has(response.status)) return response;
      if (attempt >= retries) return response as Response;
      const asked = response ? parseRetryAfter(response.headers.get("retry-after")) : null;
      const delay = asked !== null ? asked * 1000 : base * 2 ** attempt;
      // A server asking for longer than the caller allows: hand the answer back rather than block.
      if (delay > cap && response !== undefined) return response;
      await response?.body?.cancel();
      await sleep(Math.min(delay, cap), request.signal);
    }
  };
}
