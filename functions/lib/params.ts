/** Path parameters several routes share, parsed once. */
import { parsePeriod } from '../../packages/core/src/index.js';
import { badRequest } from './errors.js';

/** A `{period}` path parameter: a UTC month, YYYY-MM; else a 400 naming it. */
export function periodParam(raw: string | undefined) {
  const p = raw === undefined ? null : parsePeriod(raw);
  if (!p) throw badRequest('The period is a UTC month, YYYY-MM (2000-01 to 2999-12).', 'period', 'invalid_period');
  return p;
}
