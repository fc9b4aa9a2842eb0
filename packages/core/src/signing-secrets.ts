/**
 * Webhook signing secrets that roll with an overlap (issue 14 point 3, as Stripe's "roll secret"): a provider's
 * capacity-webhook secret and an outbound endpoint's secret. A roll makes a new `whsec_…` secret current and keeps
 * the one it replaces valid until `previous_secret_expires_at`, a delay the caller chooses (0 to 24 h, default 1 h),
 * so whoever holds the old secret can switch without one refused signature; then the old one stops.
 *
 * At most two secrets are valid at once. A roll while an overlap still runs is refused (`rotation_in_progress`), as a
 * relay-key rotation is: replacing either secret then could cut off the one a party is still on. The one exception is
 * a roll that asks for no overlap (`expires_in_s: 0`, for a leaked secret): it ends every older secret at once.
 *
 * Pure: the stores keep the secrets under a version (a lost race is read again and decided again), the caller gives
 * the time (business time: packages/core/src/clock.ts).
 */
import { newSecretKey } from './ids.js';
import { assert } from './money.js';

/** Longest overlap a roll may ask for: a day, as Stripe allows. */
export const SECRET_OVERLAP_MAX_S = 86_400;
/** The overlap of a roll that names none: an hour, time to deploy the new secret. */
export const SECRET_OVERLAP_DEFAULT_S = 3_600;

export interface SigningSecrets {
  /** `whsec_…`: the current secret. */
  secret: string;
  /** The secret the last roll replaced, valid until previous_secret_expires_at; null when no overlap was kept. */
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  /** The last roll; null before any. */
  rolled_at: string | null;
}

export type RollSecretCode = 'rotation_in_progress';
export type RollSecretResult = { ok: true; secrets: SigningSecrets } | { ok: false; code: RollSecretCode };

/** Secrets as first issued: one, no overlap. */
export function firstSecrets(secret: string): SigningSecrets {
  return { secret, previous_secret: null, previous_secret_expires_at: null, rolled_at: null };
}

/** Whether the previous secret is still valid at `atMs` (the overlap runs). */
export function overlapRunning(s: SigningSecrets, atMs: number): boolean {
  return s.previous_secret !== null && s.previous_secret_expires_at !== null && Date.parse(s.previous_secret_expires_at) > atMs;
}

/** The secrets valid at `atMs`, the current one first: what a signature is checked against and a delivery signed with. */
export function validSecrets(s: SigningSecrets, atMs: number): string[] {
  return overlapRunning(s, atMs) ? [s.secret, s.previous_secret!] : [s.secret];
}

/**
 * Rolls at `at`: `next` becomes current; the current one stays valid `expiresInS` more seconds (none when 0).
 * Refused while an earlier roll's overlap runs, unless `expiresInS` is 0 (every older secret ends now).
 */
export function rollSecrets(cur: SigningSecrets, at: string, expiresInS: number, next: string = newSecretKey('whsec')): RollSecretResult {
  assert(Number.isInteger(expiresInS) && expiresInS >= 0 && expiresInS <= SECRET_OVERLAP_MAX_S, 'secret overlap within 0..86,400 s');
  const atMs = Date.parse(at);
  if (expiresInS > 0 && overlapRunning(cur, atMs)) return { ok: false, code: 'rotation_in_progress' };
  const keep = expiresInS > 0;
  return {
    ok: true,
    secrets: {
      secret: next,
      previous_secret: keep ? cur.secret : null,
      previous_secret_expires_at: keep ? new Date(atMs + expiresInS * 1000).toISOString() : null,
      rolled_at: at,
    },
  };
}
