/**
 * The one clock of CompuX: every read of business time (ledger timestamps, hold expiries, rate-limit
 * windows, SLA hours, spend buckets, settlement months, TTLs, relay-token iat/exp, schedule event times)
 * goes through `nowMs()` / `now()` / `nowIso()`. Pure duration measurements (latency, timeouts) may use
 * `performance.now()` or `Date.now()` deltas: they do not depend on which instant it is.
 *
 * `COMPUX_NOW=<ISO instant>` starts the clock at that instant; it then advances in real time. So
 * `COMPUX_NOW=2027-12-31T23:59:00Z npm test` runs every test (and `npm start` the whole marketplace) at the
 * last minute of a year without faking the OS clock (libfaketime hangs DynamoDB Local's JVM).
 *
 * Design: the clock is real time plus a fixed offset, `offset_ms = COMPUX_NOW − real now`, computed once
 * by the first process that loads this module and written to `COMPUX_CLOCK_OFFSET_MS` in its environment.
 * A child process (or a second copy of this module in the same process) inherits that offset and so reads
 * the very same "now" as its parent; anchoring each child at COMPUX_NOW again would put it minutes in the
 * past of its parent. Sibling processes that do not descend from an anchored one (vitest's forked test
 * files: vitest's main process never reads the clock) each start at COMPUX_NOW, which is what a calendar
 * check wants: every test file begins at the chosen instant.
 *
 * Invariant: with neither variable set, `nowMs() === Date.now()` (offset 0): production runs real time.
 */

export const CLOCK_START_ENV = 'COMPUX_NOW';
export const CLOCK_OFFSET_ENV = 'COMPUX_CLOCK_OFFSET_MS';

/** A full ISO 8601 instant with a date, a time and a zone (Z or ±hh:mm); a bare date is ambiguous. */
const ISO_INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses COMPUX_NOW; throws (never ignores) a value that is not an ISO instant. */
export function parseClockStart(value: string): number {
  const start_ms = ISO_INSTANT_RE.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(start_ms)) {
    throw new Error(`${CLOCK_START_ENV}=${JSON.stringify(value)} is not an ISO instant (e.g. 2027-12-31T23:59:00Z)`);
  }
  return start_ms;
}

function parseOffset(value: string): number {
  const offset_ms = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(offset_ms)) throw new Error(`${CLOCK_OFFSET_ENV}=${JSON.stringify(value)} is not an integer of milliseconds`);
  return offset_ms;
}

function anchor(env: NodeJS.ProcessEnv): number {
  const inherited = env[CLOCK_OFFSET_ENV];
  if (inherited !== undefined && inherited !== '') return parseOffset(inherited);
  const start = env[CLOCK_START_ENV];
  if (start === undefined || start === '') return 0;
  const offset_ms = parseClockStart(start) - Date.now();
  env[CLOCK_OFFSET_ENV] = String(offset_ms); // children inherit the same "now"
  return offset_ms;
}

// Read once: a process has one clock. (The dashboards' browser bundle has no `process`: real time.)
const offset_ms: number = typeof process === 'undefined' ? 0 : anchor(process.env);

/** Milliseconds since the epoch, on the CompuX clock. */
export function nowMs(): number {
  return Date.now() + offset_ms;
}

/** Whole seconds since the epoch (JWT iat/exp, webhook timestamps, DynamoDB TTL). */
export function nowS(): number {
  return Math.floor(nowMs() / 1000);
}

export function now(): Date {
  return new Date(nowMs());
}

export function nowIso(): string {
  return new Date(nowMs()).toISOString();
}

/** How far the CompuX clock is from real time (0 unless COMPUX_NOW is set). */
export function clockOffsetMs(): number {
  return offset_ms;
}

// Small pure calendar helpers (UTC). Periods are `yyyy-mm`, days `yyyy-mm-dd`.

/** The month `at` falls in: `yyyy-mm`. */
export function monthOf(at: Date | string): string {
  return (typeof at === 'string' ? new Date(at) : at).toISOString().slice(0, 7);
}

/** `period` shifted by `months` (negative: earlier). */
export function shiftPeriod(period: string, months: number): string {
  const year = Number(period.slice(0, 4));
  const month = Number(period.slice(5, 7));
  if (!/^\d{4}-\d{2}$/.test(period) || month < 1 || month > 12) throw new Error(`not a period: ${period}`);
  return new Date(Date.UTC(year, month - 1 + months, 1)).toISOString().slice(0, 7);
}
