/**
 * Covenants (SPEC §12): conditions a lender sets on a facility, evaluated on a schedule from the facility's
 * own figures (facilities.ts facilityFigures: 24 h burn, 7-day burn, runway). A breach is a transition from
 * met to breached: it emits `facility.covenant_breached` once, and a `freeze` covenant freezes the facility
 * with the covenant as its reason. A covenant that is met again is reported met (no event); a later breach is
 * a new breach, with an event of its own.
 *
 * Pure: the set, its validation, one evaluation and the transition. Storage is the CovenantStore port.
 */
import { assert } from './money.js';
import type { FacilityFigures } from './facilities.js';

export const COVENANT_KINDS = ['min_runway_days', 'max_spend_24h_micros', 'max_burn_ratio'] as const;
export type CovenantKind = (typeof COVENANT_KINDS)[number];
export const COVENANT_ACTIONS = ['notify', 'freeze'] as const;
export type CovenantAction = (typeof COVENANT_ACTIONS)[number];

/** Bounds on thresholds: a runway of up to 10 years, a day's spend of up to 10 M USD, a ratio up to 1,000×. */
export const COVENANT_LIMITS: Record<CovenantKind, { min: number; max: number; integer: boolean }> = {
  min_runway_days: { min: 0.1, max: 3_650, integer: false },
  max_spend_24h_micros: { min: 1, max: 10_000_000_000_000, integer: true },
  max_burn_ratio: { min: 1, max: 1_000, integer: false },
};

/** One covenant of each kind at most. */
export const MAX_COVENANTS_PER_FACILITY = COVENANT_KINDS.length;
/** The schedule evaluates every facility's covenants this often (SPEC: at least every 5 minutes). */
export const COVENANT_CHECK_INTERVAL_S = 300;

export interface Covenant {
  kind: CovenantKind;
  threshold: number;
  action: CovenantAction;
}

export interface CovenantState {
  kind: CovenantKind;
  /** The measured value at the last evaluation; null when it is undefined (no spend: no runway, no ratio). */
  value: number | null;
  breached: boolean;
  /** When the current breach began (null while met): the breach's identity, so it is told once. */
  breached_since: string | null;
  /** Whether this breach was told (its event emitted, its freeze done): a run that failed before is retried. */
  notified: boolean;
  evaluated_at: string | null;
}

/** A facility's covenants and their states, as stored. */
export interface CovenantSet {
  facility_id: string;
  lender_id: string;
  startup_id: string;
  covenants: Covenant[];
  states: CovenantState[];
  updated_at: string;
  /** Bumped by every write: the schedule's updates are conditioned on it, so a lender's edit is never overwritten. */
  version: number;
}

export type CovenantRefusal = { ok: false; code: 'invalid_covenant'; field: string; message: string };

/** Checks a lender's set: known kinds, each once, thresholds within bounds (result codes, not exceptions). */
export function checkCovenants(input: readonly Covenant[]): { ok: true } | CovenantRefusal {
  if (input.length > MAX_COVENANTS_PER_FACILITY) return { ok: false, code: 'invalid_covenant', field: 'covenants', message: `At most ${MAX_COVENANTS_PER_FACILITY} covenants, one of each kind.` };
  const seen = new Set<string>();
  for (const [i, c] of input.entries()) {
    if (seen.has(c.kind)) return { ok: false, code: 'invalid_covenant', field: `covenants[${i}].kind`, message: `A facility has one ${c.kind} covenant at most.` };
    seen.add(c.kind);
    const lim = COVENANT_LIMITS[c.kind];
    const inRange = Number.isFinite(c.threshold) && c.threshold >= lim.min && c.threshold <= lim.max && (!lim.integer || Number.isSafeInteger(c.threshold));
    if (!inRange) return { ok: false, code: 'invalid_covenant', field: `covenants[${i}].threshold`, message: `${c.kind} takes ${lim.integer ? 'a whole number' : 'a number'} in [${lim.min}, ${lim.max}].` };
  }
  return { ok: true };
}

/** The figure a covenant watches, and whether it is breached (an undefined figure never breaches). */
export function measure(c: Covenant, f: Pick<FacilityFigures, 'runway_days' | 'burn_24h_micros' | 'burn_7d_micros'>): { value: number | null; breached: boolean } {
  switch (c.kind) {
    case 'min_runway_days':
      return { value: f.runway_days, breached: f.runway_days !== null && f.runway_days < c.threshold };
    case 'max_spend_24h_micros':
      return { value: f.burn_24h_micros, breached: f.burn_24h_micros > c.threshold };
    case 'max_burn_ratio': {
      // The last 24 h against the 7-day daily average; no spend in 7 days leaves it undefined.
      if (f.burn_7d_micros <= 0) return { value: null, breached: false };
      const ratio = Math.round((f.burn_24h_micros * 7 * 100) / f.burn_7d_micros) / 100;
      return { value: ratio, breached: ratio > c.threshold };
    }
  }
}

/** What one evaluation found for one covenant: its new state, and whether a breach began now. */
export interface Evaluated {
  covenant: Covenant;
  state: CovenantState;
  new_breach: boolean;
}

/** Evaluates every covenant of a set against the facility's figures at `at`. */
export function evaluate(set: CovenantSet, figures: Pick<FacilityFigures, 'runway_days' | 'burn_24h_micros' | 'burn_7d_micros'>, at: string): Evaluated[] {
  assert(set.covenants.length <= MAX_COVENANTS_PER_FACILITY, `facility ${set.facility_id} holds ${set.covenants.length} covenants`);
  return set.covenants.map((covenant) => {
    const before = set.states.find((s) => s.kind === covenant.kind);
    const m = measure(covenant, figures);
    const continuing = m.breached && before?.breached === true && before.breached_since !== null;
    const state: CovenantState = {
      kind: covenant.kind, value: m.value, breached: m.breached, breached_since: m.breached ? (continuing ? before.breached_since : at) : null,
      notified: continuing ? before.notified : false, evaluated_at: at,
    };
    return { covenant, state, new_breach: m.breached && !continuing };
  });
}

/** States for a newly set list: a covenant kept from the previous set keeps its state (so a breach is not told twice). */
export function statesFor(covenants: readonly Covenant[], previous: readonly CovenantState[]): CovenantState[] {
  return covenants.map((c) => previous.find((s) => s.kind === c.kind) ?? { kind: c.kind, value: null, breached: false, breached_since: null, notified: false, evaluated_at: null });
}

/** The freeze reason a `freeze` covenant leaves on the facility. */
export function covenantReason(c: Covenant, s: CovenantState): string {
  return `covenant ${c.kind}: ${s.value ?? 'n/a'} against threshold ${c.threshold}`;
}

/** Covenant sets are spread over this many partitions, which the schedule walks one by one. */
export const COVENANT_SHARDS = 16;
/** Sets read per partition page: the schedule pages on to the end of each. */
export const COVENANT_PAGE = 100;

export type PutCovenantsResult = { ok: true; set: CovenantSet } | { ok: false; code: 'version_conflict' };

/** Where covenant sets live (adapters/dynamodb/covenants.ts). */
export interface CovenantStore {
  getCovenants(facilityId: string): Promise<CovenantSet | null>;
  /** Writes the set as version `set.version`, provided the stored one is `set.version − 1` (or none, for 1). */
  putCovenants(set: CovenantSet): Promise<PutCovenantsResult>;
  listCovenantSets(shard: number, limit: number, cursor?: string): Promise<{ items: CovenantSet[]; cursor: string | null }>;
}
