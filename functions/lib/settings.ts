/**
 * Settings read from the environment that must not fall back quietly: a value out of bounds stops the wiring
 * (functions/lib/deps.ts) and `npm start` (local/runtime.ts checks them before starting anything) with an error
 * naming the setting and its bounds. Core never reads the environment; it is given what is parsed here.
 * No import with side effects, so the runtime may check these before it sets the handlers' environment.
 */
import { DEFAULT_HOLD_TTL_S, MAX_HOLD_TTL_S, MIN_HOLD_TTL_S } from '../../packages/core/src/holds.js';

/** Characters of a bad value echoed in the error (the value may be anything). */
const ECHO_MAX_CHARS = 32;

/**
 * COMPUX_HOLD_TTL_S: how long a request's hold lives before the hold-sweeper may release it, so how soon credit a
 * crash held comes back. Unset or empty: DEFAULT_HOLD_TTL_S (600). A hold shorter than its request's run is released
 * under it and the request goes unbilled (never billed twice): short values are for tests and trials.
 */
export function holdTtlS(text: string | undefined = process.env.COMPUX_HOLD_TTL_S): number {
  if (text === undefined || text.trim() === '') return DEFAULT_HOLD_TTL_S;
  const v = /^\s*\d{1,7}\s*$/.test(text) ? Number(text) : NaN;
  if (!(v >= MIN_HOLD_TTL_S && v <= MAX_HOLD_TTL_S)) {
    throw new Error(`COMPUX_HOLD_TTL_S must be a whole number of seconds from ${MIN_HOLD_TTL_S} to ${MAX_HOLD_TTL_S} (default ${DEFAULT_HOLD_TTL_S}), not "${text.slice(0, ECHO_MAX_CHARS)}"`);
  }
  return v;
}

/** The secret list cursors are sealed with (functions/lib/cursors.ts): every row that takes a cursor needs it. */
export const CURSOR_SECRET_ENV = 'COMPUX_CURSOR_SECRET';

/** Checks every setting above at once (the runtime's start): throws the first error. */
export function checkSettings(): void {
  holdTtlS();
}
