/**
 * SLA (SPEC §6): tiers, the samples probes and real traffic produce, the hourly buckets they are kept
 * in, and a provider's standing over the rolling 30 days.
 *
 * Latency is time to first token: what a probe (a streamed one-token completion) and a streamed request
 * measure from sending to the provider's first event. Non-streamed requests add availability samples
 * only (their latency includes the whole generation). Latencies are counted in fixed buckets whose bounds
 * include every tier's threshold, so "p95 under the tier" is decided exactly, and the p95 reported is the
 * upper bound of its bucket (the p95 is below it).
 */
import { assert } from './money.js';
import type { SlaTier } from './catalog.js';

export interface TierTerms {
  uptime_ppm: number;
  latency_ms_p95: number;
}

export const SLA_TIERS: Record<SlaTier, TierTerms> = {
  standard: { uptime_ppm: 995_000, latency_ms_p95: 500 },
  premium: { uptime_ppm: 999_000, latency_ms_p95: 200 },
  enterprise: { uptime_ppm: 999_500, latency_ms_p95: 100 },
};

export const SLA_WINDOW_DAYS = 30;
/** Fewer samples than this over the window: not enough to judge, the provider keeps its standing. */
export const MIN_SAMPLES_FOR_STANDING = 20;
/** "Recent" for health: the current and the previous hour. */
export const RECENT_HOURS = 2;

/** Upper bounds (ms, exclusive) of the latency buckets; one more bucket holds everything above the last. */
export const LATENCY_BOUNDS_MS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 125, 150, 175, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000] as const;
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

for (const t of Object.values(SLA_TIERS)) assert(LATENCY_BOUNDS_MS.includes(t.latency_ms_p95 as (typeof LATENCY_BOUNDS_MS)[number]), 'every tier threshold is a bucket bound');

export interface SlaSample {
  provider_id: string;
  endpoint_id: string;
  source: 'probe' | 'traffic';
  ok: boolean;
  /** Time to first token; null when not measured (a failure, a non-streamed request). */
  latency_ms: number | null;
  at: string;
}

/** One provider's counts for one UTC hour. */
export interface SlaBucket {
  hour: string; // YYYY-MM-DDTHH
  samples: number;
  errors: number;
  /** Latency counts per bucket, LATENCY_BUCKETS long. */
  latency: number[];
}

export function latencyBucket(ms: number): number {
  assert(Number.isFinite(ms) && ms >= 0, 'a latency is a non-negative number of ms');
  const i = LATENCY_BOUNDS_MS.findIndex((b) => ms < b);
  return i === -1 ? LATENCY_BOUNDS_MS.length : i;
}

export const hourOf = (iso: string) => iso.slice(0, 13);

/** Adds samples up per (provider, hour): what one write per bucket adds. */
export function bucketSamples(samples: readonly SlaSample[]): Array<{ provider_id: string; bucket: SlaBucket }> {
  const out = new Map<string, { provider_id: string; bucket: SlaBucket }>();
  for (const s of samples) {
    const hour = hourOf(s.at);
    const k = `${s.provider_id}|${hour}`;
    let e = out.get(k);
    if (!e) {
      e = { provider_id: s.provider_id, bucket: { hour, samples: 0, errors: 0, latency: new Array<number>(LATENCY_BUCKETS).fill(0) } };
      out.set(k, e);
    }
    e.bucket.samples++;
    if (!s.ok) e.bucket.errors++;
    if (s.ok && s.latency_ms !== null) e.bucket.latency[latencyBucket(s.latency_ms)]!++;
  }
  return [...out.values()];
}

export interface SlaStanding {
  tier: SlaTier;
  terms: TierTerms;
  window_days: number;
  samples: number;
  errors: number;
  uptime_ppm: number | null;
  latency_samples: number;
  /** Upper bound of the bucket holding the 95th percentile; null without latency samples. */
  latency_ms_p95: number | null;
  /** Meeting the tier; true while there are too few samples to judge. */
  meeting: boolean;
  judged: boolean;
  reasons: string[];
  recent_error_ppm: number;
}

/** The 95th percentile's bucket bound over summed latency counts (nearest-rank). */
export function p95Bound(latency: readonly number[]): number | null {
  const total = latency.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(total * 0.95);
  let seen = 0;
  for (let i = 0; i < latency.length; i++) {
    seen += latency[i]!;
    if (seen >= rank) return i < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[i]! : Infinity;
  }
  return Infinity;
}

/** Standing over the buckets of the window (`nowIso` picks which hours are recent). */
export function standing(tier: SlaTier, buckets: readonly SlaBucket[], nowIso: string): SlaStanding {
  const terms = SLA_TIERS[tier];
  const latency = new Array<number>(LATENCY_BUCKETS).fill(0);
  let samples = 0;
  let errors = 0;
  let recentSamples = 0;
  let recentErrors = 0;
  const recentFrom = hourOf(new Date(Date.parse(nowIso) - (RECENT_HOURS - 1) * 3_600_000).toISOString());
  for (const b of buckets) {
    samples += b.samples;
    errors += b.errors;
    b.latency.forEach((n, i) => (latency[i] = latency[i]! + n));
    if (b.hour >= recentFrom) {
      recentSamples += b.samples;
      recentErrors += b.errors;
    }
  }
  const latencySamples = latency.reduce((a, b) => a + b, 0);
  const uptime = samples > 0 ? Math.floor(((samples - errors) * 1_000_000) / samples) : null;
  const p95 = p95Bound(latency);
  const reasons: string[] = [];
  if (uptime !== null && samples >= MIN_SAMPLES_FOR_STANDING && uptime < terms.uptime_ppm) reasons.push(`uptime ${(uptime / 10_000).toFixed(3)} % is under the ${tier} tier's ${(terms.uptime_ppm / 10_000).toFixed(2)} %`);
  if (p95 !== null && latencySamples >= MIN_SAMPLES_FOR_STANDING && p95 > terms.latency_ms_p95) reasons.push(`p95 time to first token is not under ${terms.latency_ms_p95} ms (it is under ${p95 === Infinity ? 'no bound' : `${p95} ms`}, ${latencySamples} samples)`);
  const judged = samples >= MIN_SAMPLES_FOR_STANDING;
  return {
    tier, terms, window_days: SLA_WINDOW_DAYS, samples, errors, uptime_ppm: uptime, latency_samples: latencySamples,
    latency_ms_p95: p95 === Infinity ? null : p95,
    meeting: reasons.length === 0, judged, reasons,
    recent_error_ppm: recentSamples > 0 ? Math.floor((recentErrors * 1_000_000) / recentSamples) : 0,
  };
}

/** The first hour inside the rolling window ending at `nowIso`. */
export function windowStartHour(nowIso: string): string {
  return hourOf(new Date(Date.parse(nowIso) - SLA_WINDOW_DAYS * 86_400_000).toISOString());
}

export interface SlaAlert {
  provider_id: string;
  kind: 'breach' | 'recovered';
  tier: SlaTier;
  at: string;
  uptime_ppm: number | null;
  latency_ms_p95: number | null;
  samples: number;
  reasons: string[];
}

/** Where samples go and standing comes from (the DynamoDB adapter: hourly counter items). */
export interface SlaRecorder {
  record(samples: readonly SlaSample[]): Promise<void>;
}
