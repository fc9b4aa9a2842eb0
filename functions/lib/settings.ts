/**
 * Settings read from the environment that must not fall back quietly: a value out of bounds stops the wiring
 * (functions/lib/deps.ts) and `npm start` (local/runtime.ts checks them before starting anything) with an error
 * naming the setting and its bounds. Core never reads the environment; it is given what is parsed here.
 * No import with side effects, so the runtime may check these before it sets the handlers' environment.
 */
import { DEFAULT_HOLD_TTL_S, MAX_HOLD_TTL_S, MIN_HOLD_TTL_S } from '../../packages/core/src/holds.js';
import { MAX_RELAY_PUBLISH_LEAD_S, MIN_RELAY_PUBLISH_LEAD_S, RELAY_PUBLISH_LEAD_S } from '../../packages/core/src/relay.js';
import { DEFAULT_STARTUP_MAX_IN_FLIGHT, MAX_STARTUP_MAX_IN_FLIGHT, MIN_STARTUP_MAX_IN_FLIGHT } from '../../packages/core/src/concurrency.js';

/** Characters of a bad value echoed in the error (the value may be anything). */
const ECHO_MAX_CHARS = 32;

/**
 * COMPUX_HOLD_TTL_S: how long a request's hold lives before the hold-sweeper may release it, so how soon credit a
 * crash held comes back. Unset or empty: DEFAULT_HOLD_TTL_S (600). A hold shorter than its request's run is released
 * under it and the request goes unbilled (never billed twice): short values are for tests and trials.
 */
export function holdTtlS(text: string | undefined = process.env.COMPUX_HOLD_TTL_S): number {
  return boundedWhole('COMPUX_HOLD_TTL_S', 'seconds', text, MIN_HOLD_TTL_S, MAX_HOLD_TTL_S, DEFAULT_HOLD_TTL_S);
}

/**
 * COMPUX_RELAY_PUBLISH_LEAD_S: seconds between publishing a rotated relay key and its first signature
 * (packages/core/src/relay.ts). Unset or empty: RELAY_PUBLISH_LEAD_S (420). Shorter than the providers' key cache,
 * a rotation relies on their kit's refetch on an unknown kid alone: short values are for tests and trials.
 */
export function relayPublishLeadS(text: string | undefined = process.env.COMPUX_RELAY_PUBLISH_LEAD_S): number {
  return boundedWhole('COMPUX_RELAY_PUBLISH_LEAD_S', 'seconds', text, MIN_RELAY_PUBLISH_LEAD_S, MAX_RELAY_PUBLISH_LEAD_S, RELAY_PUBLISH_LEAD_S);
}

/** A whole number in [min, max] from the environment's text; unset or empty: `dflt`; anything else an error naming it. */
function boundedWhole(name: string, unit: string, text: string | undefined, min: number, max: number, dflt: number): number {
  if (text === undefined || text.trim() === '') return dflt;
  const v = /^\s*\d{1,7}\s*$/.test(text) ? Number(text) : NaN;
  if (!(v >= min && v <= max)) throw new Error(`${name} must be a whole number of ${unit} from ${min} to ${max} (default ${dflt}), not "${text.slice(0, ECHO_MAX_CHARS)}"`);
  return v;
}

/**
 * COMPUX_STARTUP_MAX_IN_FLIGHT: requests one startup may have in flight at once over all its keys, streams included
 * (packages/core/src/concurrency.ts). Unset or empty: DEFAULT_STARTUP_MAX_IN_FLIGHT (256).
 */
export function startupMaxInFlight(text: string | undefined = process.env.COMPUX_STARTUP_MAX_IN_FLIGHT): number {
  return boundedWhole('COMPUX_STARTUP_MAX_IN_FLIGHT', 'requests', text, MIN_STARTUP_MAX_IN_FLIGHT, MAX_STARTUP_MAX_IN_FLIGHT, DEFAULT_STARTUP_MAX_IN_FLIGHT);
}

/** The secret list cursors are sealed with (functions/lib/cursors.ts): every row that takes a cursor needs it. */
export const CURSOR_SECRET_ENV = 'COMPUX_CURSOR_SECRET';

/**
 * The relay key-encryption key (packages/core/src/relay-at-rest.ts): its KMS key ARN, set only on the functions whose
 * row has `relayKey` (infra/access.ts); locally the runtime's key ARN, with RELAY_KEK_FILE_ENV naming the key file.
 */
export const RELAY_KMS_KEY_ENV = 'COMPUX_RELAY_KMS_KEY_ID';
export const RELAY_KEK_FILE_ENV = 'COMPUX_RELAY_KEK_FILE';

/** Checks every setting above at once (the runtime's start): throws the first error. */
export function checkSettings(): void {
  holdTtlS();
  relayPublishLeadS();
  startupMaxInFlight();
}
