/**
 * Routing (SPEC §5), pure: which providers may serve a request, in which order, and a circuit breaker
 * per provider endpoint. The request path (issue 3) feeds it provider records, capacity and SLA standing.
 */
import { assert } from './money.js';

export type Accelerator = 'H100' | 'A100' | 'H200';

/** Providers listing fewer GPU-hours a month than this get limited routing: only after every full one. */
export const LIMITED_ROUTING_GPU_HOURS = 500;
/** Upper bound on candidates tried for one request (failover before the first byte). */
export const MAX_ATTEMPTS_PER_REQUEST = 3;

export interface ProviderOffer {
  provider_id: string;
  endpoint_id: string;
  status: 'live' | 'pending_review' | 'integration' | 'suspended';
  models: readonly string[];
  accelerator: Accelerator;
  region: string;
  /** GPU-hours available now for this accelerator (from the capacity webhook). */
  available_gpu_hours: number;
  /** GPU-hours listed for the month: under 500 means limited routing. */
  listed_gpu_hours_month: number;
  maintenance: readonly { start: string; end: string }[];
  /** Meeting its committed SLA tier over the rolling 30 days. */
  sla_meeting: boolean;
  /** Errors over the recent window, as parts per million of requests. */
  recent_error_ppm: number;
  /** What this request would cost on this offer (its maximum, the hold): the ranking's price. */
  price_micros: number;
}

export type Exclusion = 'not_live' | 'model_not_served' | 'in_maintenance' | 'no_capacity' | 'circuit_open';

export interface RouteChoice<T extends ProviderOffer = ProviderOffer> {
  ranked: T[];
  excluded: { provider_id: string; endpoint_id: string; reason: Exclusion }[];
}

export function inMaintenance(o: ProviderOffer, nowIso: string): boolean {
  return o.maintenance.some((w) => w.start <= nowIso && nowIso < w.end);
}

/**
 * Candidates, then rank: SLA standing, health (circuit closed before half-open, then fewer recent errors),
 * price, the caller's region, spare capacity; limited providers (under 500 GPU-hours a month) after all others.
 * Ties break on endpoint id so the order is total and stable.
 */
export function rankCandidates<T extends ProviderOffer>(offers: readonly T[], req: { model: string; region?: string; now: string; circuit: (endpointId: string) => CircuitState }): RouteChoice<T> {
  const excluded: RouteChoice['excluded'] = [];
  const ok: T[] = [];
  for (const o of offers) {
    const reason: Exclusion | null =
      o.status !== 'live' ? 'not_live'
      : !o.models.includes(req.model) ? 'model_not_served'
      : inMaintenance(o, req.now) ? 'in_maintenance'
      : o.available_gpu_hours <= 0 ? 'no_capacity'
      : req.circuit(o.endpoint_id) === 'open' ? 'circuit_open'
      : null;
    if (reason) excluded.push({ provider_id: o.provider_id, endpoint_id: o.endpoint_id, reason });
    else ok.push(o);
  }
  const key = (o: ProviderOffer) => [
    o.listed_gpu_hours_month < LIMITED_ROUTING_GPU_HOURS ? 1 : 0,
    o.sla_meeting ? 0 : 1,
    req.circuit(o.endpoint_id) === 'half_open' ? 1 : 0,
    o.recent_error_ppm,
    o.price_micros,
    req.region && o.region === req.region ? 0 : 1,
    -o.available_gpu_hours,
  ];
  ok.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return a.endpoint_id.localeCompare(b.endpoint_id);
  });
  return { ranked: ok, excluded };
}

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitConfig {
  /** Consecutive failures that open the circuit. */
  failure_threshold: number;
  /** How long it stays open before one trial request is let through. */
  open_ms: number;
}

export const DEFAULT_CIRCUIT: CircuitConfig = { failure_threshold: 5, open_ms: 30_000 };

/**
 * Per-endpoint circuit breaker: closed → open after `failure_threshold` consecutive failures; after
 * `open_ms` one trial is allowed (half-open); its success closes the circuit, its failure reopens it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private trialInFlight = false;

  constructor(private readonly cfg: CircuitConfig = DEFAULT_CIRCUIT) {
    assert(cfg.failure_threshold >= 1 && cfg.open_ms > 0, 'circuit config out of range');
  }

  state(nowMs: number): CircuitState {
    if (this.openedAt === null) return 'closed';
    return nowMs - this.openedAt >= this.cfg.open_ms ? 'half_open' : 'open';
  }

  /** Whether a request may go to this endpoint now (half-open lets exactly one trial through). */
  tryAcquire(nowMs: number): boolean {
    const s = this.state(nowMs);
    if (s === 'closed') return true;
    if (s === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = null;
    this.trialInFlight = false;
  }

  failure(nowMs: number): void {
    this.trialInFlight = false;
    if (this.openedAt !== null) {
      this.openedAt = nowMs; // the trial failed: open again for a full period
      return;
    }
    this.failures++;
    if (this.failures >= this.cfg.failure_threshold) this.openedAt = nowMs;
  }
}
