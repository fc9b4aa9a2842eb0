/** Facility entity. Indexed byLender (newest first) and byStartup (earliest term end first: the draw order). */
import type { Facility } from '../../../facilities.js';
import type { Key } from './keys.js';

export const facilityKey = (id: string): Key => ({ pk: `FACILITY#${id}`, sk: 'FACILITY' });

export function facilityItem(f: Facility) {
  return {
    ...facilityKey(f.id),
    type: 'facility',
    ...f,
    gsi1pk: `LENDER#${f.lender_id}`,
    gsi1sk: `FACILITY#${f.created_at}#${f.id}`,
    gsi2pk: `STARTUP#${f.startup_id}`,
    gsi2sk: `FACILITY#${f.term_end}#${f.id}`,
  };
}

const FIELDS = [
  'id', 'lender_id', 'startup_id', 'principal_micros', 'multiplier_bps', 'term_months', 'term_end', 'origination_fee_bps',
  'servicing_fee_bps', 'origination_fee_micros', 'granted_micros', 'status', 'freeze_mode', 'frozen_reason', 'frozen_at', 'recovered_at', 'matured_at', 'created_at',
] as const;

export function toFacility(item: Record<string, unknown>): Facility {
  const out: Record<string, unknown> = {};
  for (const k of FIELDS) out[k] = item[k] ?? null;
  // Facilities opened before freeze modes existed lend to leases, as `standard` ones do.
  out.freeze_mode ??= 'standard';
  return out as unknown as Facility;
}
