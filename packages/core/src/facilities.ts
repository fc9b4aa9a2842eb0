/**
 * Credit facilities (SPEC §3): a lender finances a startup; the principal is amplified into credits.
 * Pure domain: terms, grant, figures, recovery. Storage lives behind the FacilityStore port (store.ts).
 */
import { assert, divHalfEven, mulDivFloor, mulDivHalfEven, BPS } from './money.js';
import { checkPosting, facilityAccount, transfer, type Posting } from './ledger.js';

export const MULTIPLIER_BPS_MIN = 12_500;
export const MULTIPLIER_BPS_MAX = 15_000;
export const ORIGINATION_FEE_BPS = { min: 100, max: 300 } as const;
export const SERVICING_FEE_BPS = { min: 50, max: 100 } as const;
/** Facilities one startup may hold: bounds the accounts one reservation may touch. */
export const MAX_FACILITIES_PER_STARTUP = 8;

/** `matured`: past its term end (loans.ts): no new spend; its unspent credit is recovered once nothing is reserved or leased on it. */
export type FacilityStatus = 'active' | 'frozen' | 'recovered' | 'matured';
/**
 * SPEC §3: `standard` lends to credit leases (a freeze then leaves a bounded exposure); `strict` never
 * does, so every reservation on it checks the freeze and its exposure is 0.
 */
export type FreezeMode = 'standard' | 'strict';
export const FREEZE_MODES: readonly FreezeMode[] = ['standard', 'strict'];

export interface Facility {
  id: string;
  lender_id: string;
  startup_id: string;
  principal_micros: number;
  multiplier_bps: number;
  term_months: number;
  term_end: string;
  origination_fee_bps: number;
  servicing_fee_bps: number;
  origination_fee_micros: number;
  granted_micros: number;
  status: FacilityStatus;
  freeze_mode: FreezeMode;
  frozen_reason: string | null;
  frozen_at: string | null;
  recovered_at: string | null;
  /** When it matured at its term end; null before. */
  matured_at: string | null;
  created_at: string;
}

export interface FacilityTerms {
  lender_id: string;
  startup_id: string;
  principal_micros: number;
  multiplier_bps: number;
  term_months: number;
  origination_fee_bps: number;
  servicing_fee_bps: number;
  freeze_mode?: FreezeMode;
}

/** floor(principal × multiplier): the credits a facility grants. */
export function grantFor(principalMicros: number, multiplierBps: number): number {
  assert(multiplierBps >= MULTIPLIER_BPS_MIN && multiplierBps <= MULTIPLIER_BPS_MAX, `multiplier ${multiplierBps} bps outside [1.25, 1.50]`);
  return mulDivFloor(principalMicros, multiplierBps, BPS);
}

/** Calendar months in UTC, the day clamped to the target month's length (Jan 31 + 1 month = Feb 28/29). */
export function addMonthsUtc(iso: string, months: number): string {
  const d = new Date(iso);
  const day = d.getUTCDate();
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target.toISOString();
}

export function newFacility(id: string, terms: FacilityTerms, createdAt: string): { facility: Facility; grant: Posting } {
  const granted = grantFor(terms.principal_micros, terms.multiplier_bps);
  assert(granted > 0, 'a facility grants a positive amount');
  const facility: Facility = {
    id,
    ...terms,
    freeze_mode: terms.freeze_mode ?? 'standard',
    term_end: addMonthsUtc(createdAt, terms.term_months),
    origination_fee_micros: mulDivHalfEven(terms.principal_micros, terms.origination_fee_bps, BPS),
    granted_micros: granted,
    status: 'active',
    frozen_reason: null,
    frozen_at: null,
    recovered_at: null,
    matured_at: null,
    created_at: createdAt,
  };
  const grant = checkPosting({
    id: `grant:${id}`,
    kind: 'grant',
    lines: transfer(facilityAccount(id, 'funding'), facilityAccount(id, 'available'), granted),
    created_at: createdAt,
    refs: { facility_id: id, startup_id: terms.startup_id, lender_id: terms.lender_id },
  });
  return { facility, grant };
}

export interface FacilityBalances {
  available_micros: number;
  reserved_micros: number;
  /** Credit out on leases (in memory with request handlers; closed into spent and available). */
  leased_micros: number;
  spent_micros: number;
  recovered_micros: number;
  /** Negative of the funding account: what the facility granted. */
  granted_micros: number;
}

export interface FacilityFigures extends FacilityBalances {
  frozen_micros: number;
  burn_24h_micros: number;
  burn_7d_micros: number;
  burn_rate_micros_per_day: number;
  runway_days: number | null;
}

/**
 * The lender's visibility figures. Burn rate is the trailing-7-day average per day (or the trailing
 * 24 h when that is higher: a sudden spike should shorten the runway at once). Runway = available ÷ rate.
 */
export function facilityFigures(f: Facility, b: FacilityBalances, burn24h: number, burn7d: number): FacilityFigures {
  // Conservation: every granted micro is in exactly one of these places.
  assert(
    b.granted_micros === b.available_micros + b.reserved_micros + b.leased_micros + b.spent_micros + b.recovered_micros,
    `facility ${f.id}: granted ${b.granted_micros} ≠ available + reserved + leased + spent + recovered`,
  );
  const rate = Math.max(burn24h, Number(divHalfEven(BigInt(burn7d), 7n)));
  const runway = rate > 0 ? Math.floor((b.available_micros / rate) * 10) / 10 : null;
  return {
    ...b,
    frozen_micros: f.status === 'frozen' ? b.available_micros : 0,
    burn_24h_micros: burn24h,
    burn_7d_micros: burn7d,
    burn_rate_micros_per_day: rate,
    runway_days: runway,
  };
}

export interface RecoveryStatement {
  facility_id: string;
  unspent_credits_micros: number;
  /** unspent ÷ multiplier, round half to even: credits valued back at principal. */
  recovered_principal_micros: number;
  principal_micros: number;
  recovery_ratio_ppm: number;
  recovery_ratio: number;
  recovered_at: string;
}

export function recoveryStatement(f: Facility, unspentMicros: number, at: string): RecoveryStatement {
  const recoveredPrincipal = mulDivHalfEven(unspentMicros, BPS, f.multiplier_bps);
  const ppm = mulDivHalfEven(recoveredPrincipal, 1_000_000, f.principal_micros);
  return {
    facility_id: f.id,
    unspent_credits_micros: unspentMicros,
    recovered_principal_micros: recoveredPrincipal,
    principal_micros: f.principal_micros,
    recovery_ratio_ppm: ppm,
    recovery_ratio: ppm / 1_000_000,
    recovered_at: at,
  };
}

export function recoveryPosting(f: Facility, unspentMicros: number, at: string, postingId: string): Posting {
  return checkPosting({
    id: postingId,
    kind: 'recover',
    lines: transfer(facilityAccount(f.id, 'available'), facilityAccount(f.id, 'recovered'), unspentMicros),
    created_at: at,
    refs: { facility_id: f.id },
  });
}
