/**
 * When a failed delivery is tried again (SPEC §12, Stripe-like): exponential backoff from `base_s`, each
 * wait capped at `cap_s`, for as long as the first attempt is less than `window_s` (3 days) ago; then the
 * delivery is failed. Tests shorten `base_s` (COMPUX_WEBHOOK_BACKOFF_BASE_S) to see retries in seconds.
 */
export interface BackoffSchedule {
  base_s: number;
  cap_s: number;
  window_s: number;
  /** Attempts at most, whatever the window: a bound on the work one delivery can cause. */
  max_attempts: number;
}

export const WEBHOOK_RETRY_WINDOW_S = 3 * 24 * 3600;
export const DEFAULT_BACKOFF: BackoffSchedule = { base_s: 60, cap_s: 12 * 3600, window_s: WEBHOOK_RETRY_WINDOW_S, max_attempts: 20 };

/** The wait after the `attempts`-th failed attempt (1-based): base, 2×base, 4×base … capped. */
export function retryDelayS(attempts: number, s: BackoffSchedule = DEFAULT_BACKOFF): number {
  const exp = Math.min(attempts - 1, 30); // 2^30 × base is far past any cap: no overflow
  return Math.min(s.cap_s, s.base_s * 2 ** exp);
}

/**
 * The next attempt's time (epoch ms) after `attempts` failed ones, the first made at `firstAttemptMs`; null when
 * the delivery has had its attempts or the next one would fall outside the window.
 */
export function nextAttemptMs(firstAttemptMs: number, attempts: number, nowMs: number, s: BackoffSchedule = DEFAULT_BACKOFF): number | null {
  if (attempts >= s.max_attempts) return null;
  const at = nowMs + retryDelayS(attempts, s) * 1000;
  return at - firstAttemptMs <= s.window_s * 1000 ? at : null;
}

/** The whole schedule from a first attempt at 0 when every attempt fails instantly: offsets in seconds. */
export function attemptOffsetsS(s: BackoffSchedule = DEFAULT_BACKOFF): number[] {
  const out = [0];
  for (let n = 1; ; n++) {
    const next = nextAttemptMs(0, n, out[out.length - 1]! * 1000, s);
    if (next === null) return out;
    out.push(next / 1000);
  }
}
