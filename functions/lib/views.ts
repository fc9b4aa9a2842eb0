/** JSON shapes of domain objects in replies (the zod reply schemas in schemas.ts describe them). */
import type { Facility, FacilityView } from '../../packages/core/src/index.js';
import { facilityFigures } from '../../packages/core/src/index.js';

export function facilityJson(v: FacilityView) {
  return {
    id: v.id,
    lender_id: v.lender_id,
    startup_id: v.startup_id,
    principal_micros: v.principal_micros,
    multiplier: v.multiplier_bps / 10_000,
    multiplier_bps: v.multiplier_bps,
    term_months: v.term_months,
    term_end: v.term_end,
    origination_fee_bps: v.origination_fee_bps,
    servicing_fee_bps: v.servicing_fee_bps,
    origination_fee_micros: v.origination_fee_micros,
    status: v.status,
    freeze_mode: v.freeze_mode,
    frozen_reason: v.frozen_reason,
    matured_at: v.matured_at,
    created_at: v.created_at,
    granted_micros: v.granted_micros,
    spent_micros: v.spent_micros,
    reserved_micros: v.reserved_micros,
    leased_micros: v.leased_micros,
    available_micros: v.available_micros,
    frozen_micros: v.frozen_micros,
    recovered_micros: v.recovered_micros,
    fees_owed_micros: v.fees_owed_micros,
    burn_24h_micros: v.burn_24h_micros,
    burn_7d_micros: v.burn_7d_micros,
    burn_rate_micros_per_day: v.burn_rate_micros_per_day,
    runway_days: v.runway_days,
  };
}

/** The figures of a facility that was just opened: everything granted is available, nothing else has moved. */
export function freshFacilityView(f: Facility): FacilityView {
  return {
    ...f,
    ...facilityFigures(f, { available_micros: f.granted_micros, reserved_micros: 0, leased_micros: 0, spent_micros: 0, recovered_micros: 0, granted_micros: f.granted_micros }, 0, 0),
    fees_owed_micros: f.origination_fee_micros,
  };
}
