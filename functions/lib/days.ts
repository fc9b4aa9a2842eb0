/** Days a caller names in a query (GET /v1/usage's from and to): real calendar days, bounded, or a 400 naming the field. */
import { badRequest } from './errors.js';

/** A date or an ISO timestamp is never longer. */
const MAX_DATE_CHARS = 40;
const DATE_PREFIX = /^(\d{4})-(\d{2})-(\d{2})/;

/**
 * The UTC day of a `from` or `to`: a real calendar day (YYYY-MM-DD) or an ISO timestamp on one, in the years 2000–2999;
 * anything else (9999-99-99, 2027-02-30, a day followed by garbage) is a 400 naming the field, never a RangeError.
 */
export function usageDay(text: string, field: 'from' | 'to'): string {
  const m = text.length <= MAX_DATE_CHARS ? DATE_PREFIX.exec(text) : null;
  const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const calendar = new Date(Date.UTC(y, mo - 1, d));
  const real = m !== null && calendar.getUTCFullYear() === y && calendar.getUTCMonth() === mo - 1 && calendar.getUTCDate() === d;
  const ms = real ? Date.parse(text) : NaN;
  const day = Number.isNaN(ms) ? null : new Date(ms).toISOString().slice(0, 10);
  if (day === null || day < '2000-01-01' || day > '2999-12-31') {
    throw badRequest(`${field} must be a real UTC day, YYYY-MM-DD (or an ISO timestamp on one), from 2000 to 2999.`, field, 'invalid_date');
  }
  return day;
}
