/**
 * Per-key rate limits (SPEC §4): requests per minute and tokens per minute, counted in fixed one-minute
 * windows. Tokens are counted at admission as the most the request may use (its prompt bound plus the
 * completion it may ask for), as OpenAI counts max_tokens against TPM; a request refused by a limit is
 * not counted. A fixed window lets a key use up to twice its limit across a window boundary: accepted for
 * a per-key fairness limit (it is not a money bound; credits and budgets are).
 */
export const RATE_WINDOW_S = 60;

export interface RateLimits {
  rpm: number | null;
  tpm: number | null;
}

export type RateDecision =
  | { ok: true }
  | { ok: false; limit: 'rpm' | 'tpm'; retry_after_s: number; too_large?: boolean };

export interface RateLimiter {
  admit(keyId: string, limits: RateLimits, tokens: number, now: Date): Promise<RateDecision>;
}

export function windowStartS(now: Date): number {
  const s = Math.floor(now.getTime() / 1000);
  return s - (s % RATE_WINDOW_S);
}

/** Whole seconds until the window that `now` is in ends (at least 1). */
export function retryAfterS(now: Date): number {
  const endMs = (windowStartS(now) + RATE_WINDOW_S) * 1000;
  return Math.max(1, Math.ceil((endMs - now.getTime()) / 1000));
}
