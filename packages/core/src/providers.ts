/**
 * Providers (SPEC §6, §10): the provider record with its onboarding steps, and how its capacity reports
 * are applied to the routing record the request path reads.
 *
 * Capacity rule (SPEC §6): reports are applied in report order per provider, each event id once. An
 * update closer than the provider's interval (at least 15 minutes) to the last applied one is coalesced
 * (kept as pending; the latest pending wins and is applied once the interval has passed), except a
 * report that reduces capacity somewhere or changes the maintenance windows: that one applies at once,
 * so new requests are rerouted at once.
 */
import { assert } from './money.js';
import type { CapacityEntry, CatalogModel, MaintenanceWindow, ProviderEndpoint, RoutingProvider, SlaTier } from './catalog.js';
import type { Accelerator } from './routing.js';
import type { CapacityBlock } from './bookings/blocks.js';

export type OnboardingStatus = 'pending_review' | 'integration' | 'validating' | 'pricing_review' | 'live' | 'rejected';
export const MIN_CAPACITY_INTERVAL_S = 15 * 60;
export const MAX_STEPS_KEPT = 50;

export interface OnboardingStep {
  step: 'application' | 'review' | 'validation' | 'endpoints' | 'models' | 'sla' | 'relay_handshake' | 'reliability' | 'throughput' | 'sla_latency' | 'pricing_review' | 'live';
  result: 'passed' | 'failed' | 'recorded';
  at: string;
  detail: string;
}

export interface ProviderRecord {
  id: string;
  name: string;
  contact_email: string;
  regions: string[];
  accelerators: Accelerator[];
  status: OnboardingStatus;
  sla_tier: SlaTier | null;
  capacity_interval_s: number;
  endpoints: ProviderEndpoint[];
  models: CatalogModel[];
  steps: OnboardingStep[];
  /** The operator's volume premium over 200,000 GPU-hours a month, in basis points (absent: not set). */
  custom_premium_bps?: number | null;
  created_at: string;
  updated_at: string;
}

export interface CapacityReportInput {
  event_id: string;
  provider_id: string;
  reported_at: string;
  capacity: CapacityEntry[];
  burst_windows: { start: string; end: string; extra_gpu_hours: number }[];
  maintenance_windows: MaintenanceWindow[];
  /** Bookable blocks (bookings/blocks.ts); absent: the blocks applied before stay. */
  capacity_blocks?: CapacityBlock[] | undefined;
}

/** What the consumer keeps per provider between reports. */
export interface CapacityState {
  last_applied_reported_at: string | null;
  last_applied_at: string | null;
  pending: CapacityReportInput | null;
}

export function addStep(p: ProviderRecord, s: OnboardingStep): ProviderRecord {
  return { ...p, steps: [...p.steps, s].slice(-MAX_STEPS_KEPT), updated_at: s.at };
}

const capKey = (c: Pick<CapacityEntry, 'accelerator' | 'region' | 'availability_zone'>) => `${c.accelerator}|${c.region}|${c.availability_zone}`;

/** True when `next` lowers any capacity the routing record has now, or changes the maintenance windows. */
export function isUrgent(current: Pick<RoutingProvider, 'capacity' | 'maintenance'>, next: CapacityReportInput): boolean {
  const now = new Map(current.capacity.map((c) => [capKey(c), c.available_gpu_hours]));
  const after = new Map(next.capacity.map((c) => [capKey(c), c.available_gpu_hours]));
  for (const [k, hours] of now) if ((after.get(k) ?? 0) < hours) return true;
  const norm = (ws: readonly MaintenanceWindow[]) => JSON.stringify([...ws].map((w) => [w.start, w.end]).sort());
  return norm(current.maintenance) !== norm(next.maintenance_windows);
}

export type CapacityDecision =
  | { action: 'apply'; report: CapacityReportInput; reason: 'urgent' | 'interval_passed' | 'first' }
  | { action: 'coalesce'; report: CapacityReportInput }
  | { action: 'stale' };

/** Decides what to do with an accepted (first-seen) report. Pure: the consumer stores the outcome. */
export function decideCapacity(state: CapacityState, current: Pick<RoutingProvider, 'capacity' | 'maintenance'>, report: CapacityReportInput, intervalS: number, nowIso: string): CapacityDecision {
  assert(intervalS >= MIN_CAPACITY_INTERVAL_S, `the capacity interval is at least ${MIN_CAPACITY_INTERVAL_S} s`);
  // Out of order: a report older than what is applied (or pending) changes nothing.
  const newest = [state.last_applied_reported_at, state.pending?.reported_at].filter((x): x is string => !!x).sort().pop();
  if (newest && report.reported_at <= newest) return { action: 'stale' };
  if (!state.last_applied_at) return { action: 'apply', report, reason: 'first' };
  if (isUrgent(current, report)) return { action: 'apply', report, reason: 'urgent' };
  if (Date.parse(nowIso) - Date.parse(state.last_applied_at) >= intervalS * 1000) return { action: 'apply', report, reason: 'interval_passed' };
  return { action: 'coalesce', report };
}

/** A pending report whose interval has passed, ready to apply (the flush schedule). */
export function duePending(state: CapacityState, intervalS: number, nowIso: string): CapacityReportInput | null {
  if (!state.pending || !state.last_applied_at) return state.pending;
  return Date.parse(nowIso) - Date.parse(state.last_applied_at) >= intervalS * 1000 ? state.pending : null;
}

/** The routing record of a provider: its catalog from the provider record, capacity from the last applied report. */
export function routingOf(p: ProviderRecord, prev: RoutingProvider | null, applied: CapacityReportInput | null, at: string): RoutingProvider {
  return {
    id: p.id,
    name: p.name,
    status: p.status === 'live' ? 'live' : p.status === 'rejected' ? 'suspended' : p.status === 'pending_review' ? 'pending_review' : 'integration',
    sla_tier: p.sla_tier ?? 'standard',
    sla_meeting: prev?.sla_meeting ?? true,
    recent_error_ppm: prev?.recent_error_ppm ?? 0,
    // The hours a provider lists are the hours its last applied report offers.
    listed_gpu_hours_month: applied ? applied.capacity.reduce((n, c) => n + c.available_gpu_hours, 0) : (prev?.listed_gpu_hours_month ?? 0),
    endpoints: p.endpoints,
    models: p.models,
    capacity: applied ? applied.capacity : (prev?.capacity ?? []),
    maintenance: applied ? applied.maintenance_windows : (prev?.maintenance ?? []),
    updated_at: at,
  };
}
